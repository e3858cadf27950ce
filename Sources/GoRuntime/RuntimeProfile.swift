// RuntimeProfile.swift — pprof profiles of the running program (goroutines, CPU, blocking, mutexes), built
// on GoPprof's profile model and encoder, with frames named by RuntimeSymbols.
//
// Addresses: a stack's PCs are return addresses, except a CPU sample's first (the interrupted PC). A return
// address may already lie in the next function (after a call that does not return), so each is named,
// and written, as `pc - 1`, the call instruction's last byte — Go's profiles do the same.
import CGoRuntime
import GoPprof

struct RuntimeProfileBuilder {
    private(set) var profile: Profile
    private var buildIDs: [String: String] = [:]
    private var locationOfPC: [UInt64: Int] = [:]

    /// The last sample type is the one `go tool pprof` shows unless told otherwise, as in Go's profiles
    /// (`cpu` over `samples`, `delay` over `contentions`).
    init(name: String, sampleTypes: [ValueType], periodType: ValueType, period: Int64) {
        profile = Profile(name: name, sampleTypes: sampleTypes, primaryValue: sampleTypes.count - 1)
        profile.periodType = periodType
        profile.period = period
        profile.timeNanos = gort_walltime()
        for module in RuntimeSymbols.modules() { buildIDs[module.path] = module.buildID }
    }

    mutating func setTime(startNanoseconds: Int64, durationNanoseconds: Int64) {
        profile.timeNanos = startNanoseconds
        profile.durationNanos = durationNanoseconds
    }

    /// Adds one sample. `pcs` innermost first; `firstIsExact`: the first PC is an interrupted instruction
    /// (a CPU sample), not a return address.
    mutating func add(_ pcs: ArraySlice<UInt64>, values: [Int64], firstIsExact: Bool = false) {
        var locations: [Int] = []
        locations.reserveCapacity(pcs.count)
        for (index, pc) in zip(pcs.indices, pcs) where pc != 0 {
            let address = index == pcs.startIndex && firstIsExact ? pc : pc - 1
            locations.append(location(address))
        }
        if locations.isEmpty { locations.append(profile.syntheticLocation(named: "[unknown]")) }
        // Profile keeps stacks root first.
        profile.samples.append(ProfileSample(locations: locations.reversed(), values: values))
    }

    private mutating func location(_ address: UInt64) -> Int {
        if let known = locationOfPC[address] { return known }
        let frame = RuntimeSymbols.frame(address)
        var mapping: Int?
        if !frame.module.isEmpty {
            mapping = profile.mapping(ProfileMapping(start: frame.moduleBase, limit: address + 1, path: frame.module,
                                                     buildID: buildIDs[frame.module] ?? ""))
        }
        // The source file when DWARF has it (pprof's `-list` and `file:line` granularity), else the module.
        let function = profile.function(ProfileFunction(name: frame.symbol == "?" ? "0x" + String(address, radix: 16) : frame.function,
                                                        shortName: shortName(frame, address),
                                                        file: frame.file.isEmpty ? frame.module : frame.file))
        let index = profile.location(address: address, function: function, mapping: mapping, line: frame.line)
        locationOfPC[address] = index
        return index
    }

    /// pprof's `name`: the function without its argument list, as Go's profiles name `main.worker`.
    private func shortName(_ frame: RuntimeFrame, _ address: UInt64) -> String {
        if frame.symbol == "?" { return "0x" + String(address, radix: 16) }
        return Self.withoutSignature(frame.function)
    }

    /// `Module.f(Swift.Int) -> ()` → `Module.f`; closures (`closure #1 () -> () in Module.f()`) and other
    /// names with spaces before their first parenthesis stay whole.
    static func withoutSignature(_ name: String) -> String {
        var depth = 0
        for (offset, character) in name.enumerated() {
            switch character {
            case "<": depth += 1
            case ">": depth -= 1
            case "(" where depth == 0 && offset > 0:
                let head = name.prefix(offset)
                return head.contains(" ") ? name : String(head)
            default: break
            }
        }
        return name
    }

    /// The gzipped protobuf `go tool pprof` reads.
    func encoded() -> [UInt8] { PprofEncoder.encode(profile) }
}
