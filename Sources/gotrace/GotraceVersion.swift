import GoTrace

/// The package's release version, written here only: the release tag (`0.1.0`) must match it. The built-in
/// analyzers carry their own versions (their descriptors), which move with their output formats instead.
let gotraceVersion = "0.1.0"

/// What `gotrace --version` prints. The trace-format version is GoTrace's `traceFormatVersion` (the version
/// this build writes and the newest it reads), not a copy of the number, so the two cannot drift apart.
let gotraceVersionLine = "gotrace \(gotraceVersion) (trace format \(traceFormatVersion))"
