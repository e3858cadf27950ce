// Finding and loading analyzer plugins.
//
// Design note
// -----------
// Discovery order (first found wins when two plugins share a name; the later ones are listed as shadowed):
//   1. `--plugin PATH` options, in order (a file, or a directory to scan);
//   2. each directory of `GOTRACE_PLUGIN_PATH` (colon-separated);
//   3. `~/.local/lib/gotrace/plugins`;
//   4. `<directory of the gotrace executable>/../lib/gotrace/plugins` — where scripts/install.sh puts the
//      built-in plugins (`PREFIX/bin/gotrace`, `PREFIX/lib/gotrace/plugins/libLeakAnalyzer.so`), so an
//      installed gotrace finds its own analyzers wherever the prefix is and however it is reached;
//   5. the directory of the `gotrace` executable — where SwiftPM puts the built-in plugins
//      (`.build/<config>/libLeakAnalyzer.so`), so a build runs without installing.
// The install layout comes before the build layout so that an installed copy's plugins win over any
// libraries that happen to lie beside the binary (PREFIX/bin is shared with other programs).
// Never the current directory: running `gotrace report` inside an untrusted checkout must not execute
// code from it. (It is searched only when named: `--plugin .`, `--plugin ./libX.so` or `--plugin libX.so` —
// a bare file name is opened as `./libX.so`, never looked up in the library path — or a relative
// GOTRACE_PLUGIN_PATH entry. Empty GOTRACE_PLUGIN_PATH entries, which PATH-style lists read as ".", are
// dropped.)
//
// A directory holds many shared objects that are not plugins, and dlopen runs a library's constructors,
// so files found by scanning are screened first: only a `.so` whose bytes contain an entry symbol name
// (`gotrace_plugin_v<N>`, which any plugin's dynamic string table holds) is opened. The same screen tells
// a plugin built for another ABI major apart without loading it.
//
// Loading: `dlopen(RTLD_NOW | RTLD_LOCAL)` so unresolved symbols fail here, with dlerror's text, rather
// than mid-report, and two plugins' private copies of GoTracePluginKit never interpose. Then the
// descriptor is checked (ABI major, struct size, non-null callbacks). Handles are never closed.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin

/// A plugin that loaded and passed the descriptor checks.
public struct LoadedPlugin: @unchecked Sendable {
    public var name: String
    public var version: String
    public var summary: String
    public var abiMajor: UInt32
    public var abiMinor: UInt32
    public var path: String
    public var options: [(key: String, help: String, defaultValue: String?)]
    /// Safety: points into the plugin's static data, which lives forever (plugins are never unloaded).
    let descriptor: UnsafePointer<gotrace_plugin_descriptor>
}

/// Why a candidate could not be used; `messages` outermost first.
public struct PluginLoadFailure: Sendable, Error {
    public var path: String
    public var messages: [String]
}

public struct PluginCatalog: Sendable {
    public var plugins: [LoadedPlugin] = []
    public var failures: [PluginLoadFailure] = []
    /// Plugins skipped because one with the same name was found earlier: (path, name, the winner's path).
    public var shadowed: [(path: String, name: String, winner: String)] = []

    public func plugin(named name: String) -> LoadedPlugin? { plugins.first { $0.name == name } }
}

public enum PluginLoader {
    /// The entry symbol prefix; the ABI major follows it.
    static let entryPrefix = "gotrace_plugin_v"
    public static let abiMajor = UInt32(GOTRACE_PLUGIN_ABI_MAJOR)
    public static let abiMinor = UInt32(GOTRACE_PLUGIN_ABI_MINOR)

    /// The search directories after the explicit paths, in order.
    public static func searchDirectories(environment: [String: String], executablePath: String?) -> [String] {
        var directories: [String] = []
        if let path = environment["GOTRACE_PLUGIN_PATH"] {
            directories += path.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        if let home = environment["HOME"], !home.isEmpty { directories.append(home + "/.local/lib/gotrace/plugins") }
        if let executablePath, let slash = executablePath.lastIndex(of: "/") {
            let executableDirectory = executablePath[..<slash]
            // The parent is taken by dropping a component, not by appending "..": the path is already resolved
            // (`/proc/self/exe`), and the listed directory should read as the place the user installed to.
            let prefix = executableDirectory.lastIndex(of: "/").map { executableDirectory[..<$0] } ?? ""
            directories.append(prefix + "/lib/gotrace/plugins")
            directories.append(String(executableDirectory))
        }
        return directories
    }

    /// `/proc/self/exe`, resolved.
    public static func currentExecutablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        buffer[length] = 0
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Discovers and loads every plugin: explicit paths first, then `directories`.
    public static func discover(explicitPaths: [String], directories: [String]) -> PluginCatalog {
        var catalog = PluginCatalog()
        var seenRealPaths: Set<String> = []
        func consider(_ path: String, explicit: Bool) {
            let real = realPath(path) ?? path
            guard seenRealPaths.insert(real).inserted else { return }
            switch load(path: path, explicit: explicit) {
            case .success(let plugin?):
                if let winner = catalog.plugin(named: plugin.name) {
                    catalog.shadowed.append((path, plugin.name, winner.path))
                } else {
                    catalog.plugins.append(plugin)
                }
            case .success(nil): break
            case .failure(let failure): catalog.failures.append(failure)
            }
        }
        for path in explicitPaths {
            if isDirectory(path) {
                for file in sharedObjects(in: path) { consider(file, explicit: false) }
            } else {
                consider(path, explicit: true)
            }
        }
        for directory in directories {
            for file in sharedObjects(in: directory) { consider(file, explicit: false) }
        }
        return catalog
    }

    /// Loads one library. `.success(nil)`: a scanned file that is not a plugin (silently ignored).
    static func load(path: String, explicit: Bool) -> Result<LoadedPlugin?, PluginLoadFailure> {
        func failure(_ messages: String...) -> Result<LoadedPlugin?, PluginLoadFailure> {
            .failure(PluginLoadFailure(path: path, messages: ["cannot load plugin \(path)"] + messages))
        }
        let majors: Set<UInt32>
        switch entryMajors(inFile: path) {
        case .failure(let problem): return failure(problem.reason)
        case .success(let found): majors = found
        }
        if majors.isEmpty {
            return explicit ? failure("no \(entryPrefix)<N> entry symbol: not a gotrace plugin") : .success(nil)
        }
        guard majors.contains(abiMajor) else {
            let list = majors.sorted().map(String.init).joined(separator: ", ")
            return failure("built for plugin ABI \(list); this gotrace speaks ABI \(abiMajor)")
        }
        // dlopen searches the library path (not the current directory) for a name without a slash: a file
        // named on the command line as `libX.so` must be that file, not a namesake in /usr/lib.
        let openPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(openPath, RTLD_NOW | RTLD_LOCAL) else {
            return failure(dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        // The handle is deliberately never closed: a Swift plugin cannot be unloaded safely.
        guard let symbol = dlsym(handle, GOTRACE_PLUGIN_ENTRY_SYMBOL) else {
            return failure("\(GOTRACE_PLUGIN_ENTRY_SYMBOL) is not exported")
        }
        // Safety: the ABI defines the entry's C type as gotrace_plugin_entry_v1.
        let entry = unsafeBitCast(symbol, to: (@convention(c) () -> UnsafePointer<gotrace_plugin_descriptor>?).self)
        guard let descriptor = entry() else { return failure("\(GOTRACE_PLUGIN_ENTRY_SYMBOL)() returned NULL") }
        // Safety: a v1 descriptor is at least as large as the fields read before checking struct_size.
        let d = descriptor.pointee
        guard d.abi_major == abiMajor else {
            return failure("descriptor says plugin ABI \(d.abi_major); this gotrace speaks ABI \(abiMajor)")
        }
        guard d.struct_size >= UInt32(MemoryLayout<gotrace_plugin_descriptor>.size) else {
            return failure("descriptor is \(d.struct_size) bytes, ABI \(abiMajor) needs \(MemoryLayout<gotrace_plugin_descriptor>.size)")
        }
        guard let name = d.name.map({ String(cString: $0) }), !name.isEmpty else { return failure("descriptor has no name") }
        guard d.create != nil, d.consume != nil, d.finish != nil, d.destroy != nil else {
            return failure("plugin \(name): descriptor lacks a callback")
        }
        var options: [(String, String, String?)] = []
        if let list = d.options {
            for index in 0..<d.option_count {
                // Safety: the descriptor promises `option_count` specs at `options`.
                let spec = list[index]
                options.append((spec.key.map { String(cString: $0) } ?? "", spec.help.map { String(cString: $0) } ?? "",
                                spec.default_value.map { String(cString: $0) }))
            }
        }
        return .success(LoadedPlugin(
            name: name, version: d.version.map { String(cString: $0) } ?? "", summary: d.description.map { String(cString: $0) } ?? "",
            abiMajor: d.abi_major, abiMinor: d.abi_minor, path: path, options: options, descriptor: descriptor))
    }

    /// The ABI majors of the `gotrace_plugin_v<N>` names in the file's bytes.
    static func entryMajors(inFile path: String) -> Result<Set<UInt32>, LoadProblem> {
        guard let file = fopen(path, "rb") else { return .failure(LoadProblem(String(cString: strerror(errno)))) }
        defer { fclose(file) }
        var majors: Set<UInt32> = []
        let prefix = Array(entryPrefix.utf8)
        // A read keeps the tail of the previous one in front of it, so that a name split across two reads is
        // still found. `memchr` finds each candidate: a byte loop over a plugin's megabytes took ~4% of a
        // `gotrace report` of a 1.2 M-event trace (callgrind).
        let keep = prefix.count + 8
        var buffer = [UInt8](repeating: 0, count: keep + (1 << 20))
        var carried = 0
        buffer.withUnsafeMutableBufferPointer { buffer in
            // Safety: every pointer below stays inside `buffer`: reads fill `carried..<buffer.count`, and the
            // search covers the `filled` bytes read so far.
            let base = buffer.baseAddress!
            while true {
                let count = fread(base + carried, 1, buffer.count - carried, file)
                if count == 0 { break }
                let filled = carried + count
                var index = 0
                while index + prefix.count < filled,
                      let hit = memchr(base + index, Int32(prefix[0]), filled - index - prefix.count) {
                    let start = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    guard memcmp(base + start, prefix, prefix.count) == 0 else {
                        index = start + 1
                        continue
                    }
                    var end = start + prefix.count
                    var major: UInt32 = 0
                    while end < filled, base[end] >= 0x30, base[end] <= 0x39, major < 100_000 {
                        major = major * 10 + UInt32(base[end] - 0x30)
                        end += 1
                    }
                    // A symbol name ends with NUL in .dynstr; anything else is text that merely mentions it.
                    if end > start + prefix.count, end < filled, base[end] == 0 { majors.insert(major) }
                    index = end
                }
                carried = Swift.min(keep, filled)
                memmove(base, base + filled - carried, carried)
            }
        }
        return .success(majors)
    }

    static func sharedObjects(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var files: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name.hasSuffix(".so"), !name.hasPrefix(".") else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if !isDirectory(path) { files.append(path) }
        }
        return files.sorted()
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

struct LoadProblem: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
