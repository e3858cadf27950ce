// GoTrace is the read side of the trace format; the wire format and the writer live in GoTraceFormat so that
// a program linking only GoRuntime carries no reader. Readers see one module: `import GoTrace` brings both.
@_exported import GoTraceFormat
