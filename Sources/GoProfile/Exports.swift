// The profile model and the pprof writer live in GoPprof, which the runtime links too (its debug server
// serves pprof profiles); GoProfile's users see them here as before.
@_exported import GoPprof
