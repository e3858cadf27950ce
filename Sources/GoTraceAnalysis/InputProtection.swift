// Commands that read a trace and write files never write over the trace they read.
//
// Design note
// -----------
// "The same file" is decided by device and inode, not by spelling: `-o ./t.gtrace`, a symlink to the trace
// and a hard link to it all name the trace. A path that does not exist yet cannot be the input. Each command
// checks its own output paths before it reads anything (a clear error, nothing written), and the plugin
// host checks every file a plugin writes (`write_file`), since a plugin picks its own file names inside the
// report's output directory.

#if canImport(Glibc)
import Glibc
#endif

public enum InputProtection {
    /// Whether `path` and `other` both exist and are the same file.
    public static func isSameFile(_ path: String, _ other: String) -> Bool {
        var first = stat()
        var second = stat()
        guard stat(path, &first) == 0, stat(other, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    /// The error lines for writing `output` when it is one of `inputs`, or nil when it is safe.
    public static func refusal(toWrite output: String, inputs: [String]) -> [String]? {
        guard let input = inputs.first(where: { isSameFile(output, $0) }) else { return nil }
        return ["refusing to write \(output): it is the input trace \(input)",
                "choose another output path; gotrace never overwrites the trace it reads"]
    }
}
