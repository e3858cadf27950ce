// StackDump+Quit.swift — SIGQUIT as Go's runtime answers it: every goroutine's stack to stderr, exit 2.
//
// The handler (CGoRuntime/quit.c) only wakes a dump thread; this callback runs there, in normal context,
// and captures with the world stopped (StackDump.swift), so no M is inside the runtime's locks or halfway
// through a goroutine switch while the stacks are walked. GOTRACEBACK as Go defines it: `none` (or 0)
// prints no stacks; `single` (1, the default), `all` (2) and `system` print every goroutine — Go's SIGQUIT
// handler lists the others at `single` too; `crash` prints them and then dies by SIGABRT, leaving a core
// where the system keeps one. A trace being recorded is ended first (its end chunk names no signal).
import CGoRuntime

enum StackDumpOnQuit {
    enum Level { case none, all, crash }

    static func install() { _ = gort_quit_install(onQuit) }

    static var level: Level {
        switch getenvString("GOTRACEBACK") ?? "single" {
        case "none", "0": return .none
        case "crash": return .crash
        default: return .all
        }
    }
}

private func onQuit() {
    let level = StackDumpOnQuit.level
    var text = "SIGQUIT: quit\n"
    if level != .none {
        text += "\n" + StackDumpFormat.goroutines(StackCapture.all())
    }
    writeStandardError(text)
    if tracer.isRecording { tracer.stop() }
    if level == .crash { gort_abort_with_core() }
    gort_exit(2)
}
