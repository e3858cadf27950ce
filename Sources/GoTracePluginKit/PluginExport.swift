#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Builds the C descriptor for an `Analyzer` type; what a plugin's `gotrace_plugin_v1` returns.
public enum PluginExport {
    /// Descriptors already built, by type: the entry may be called more than once, and must return the
    /// same stable pointer. Built once and never freed (plugins are never unloaded).
    /// Values are descriptor addresses (pointers are not Sendable; these are immutable once built).
    private static let descriptors = Mutex<[ObjectIdentifier: UInt]>([:])

    /// The plugin descriptor for analyzer type `type`, built on the first call and the same pointer on
    /// every later one; return it from the plugin's `@_cdecl("gotrace_plugin_v1")` function.
    ///
    /// - Parameter type: The analyzer the plugin provides.
    /// - Returns: A `gotrace_plugin_descriptor` pointer that stays valid for the life of the process.
    public static func descriptor<A: Analyzer>(for type: A.Type) -> UnsafeRawPointer {
        let address = descriptors.withLock { table in
            if let existing = table[ObjectIdentifier(type)] { return existing }
            let made = UInt(bitPattern: makeDescriptor(type))
            table[ObjectIdentifier(type)] = made
            return made
        }
        // Safety: the address is a descriptor allocated by makeDescriptor and never freed.
        return UnsafeRawPointer(bitPattern: address)!
    }

    /// A C string that lives forever (descriptor strings must outlive every call).
    private static func permanent(_ text: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(text)!) }

    private static func makeDescriptor<A: Analyzer>(_ type: A.Type) -> UnsafeMutablePointer<gotrace_plugin_descriptor> {
        let options = UnsafeMutablePointer<gotrace_option_spec>.allocate(capacity: max(1, A.options.count))
        for (index, option) in A.options.enumerated() {
            // Safety: `index` < A.options.count, the allocated capacity.
            (options + index).initialize(to: gotrace_option_spec(
                key: permanent(option.key), help: permanent(option.help),
                default_value: option.defaultValue.map(permanent)))
        }
        let factory = Unmanaged.passRetained(FactoryBox { api, handle throws(AnalyzerError) in
            try A(host: AnalyzerHost(api: api, handle: handle))
        }).toOpaque()
        var descriptor = gotrace_plugin_descriptor()
        descriptor.struct_size = UInt32(MemoryLayout<gotrace_plugin_descriptor>.size)
        descriptor.abi_major = UInt32(GOTRACE_PLUGIN_ABI_MAJOR)
        descriptor.abi_minor = UInt32(GOTRACE_PLUGIN_ABI_MINOR)
        descriptor.name = permanent(A.name)
        descriptor.version = permanent(A.version)
        descriptor.description = permanent(A.summary)
        descriptor.options = UnsafePointer(options)
        descriptor.option_count = A.options.count
        descriptor.context = factory
        descriptor.create = { context, api, handle, instance in
            // Safety: `context` is the FactoryBox retained above, never released.
            guard let context, let api, let handle, let instance else { return gotrace_status(GOTRACE_ERROR_INTERNAL) }
            let factory = Unmanaged<FactoryBox>.fromOpaque(context).takeUnretainedValue()
            let host = AnalyzerHost(api: api, handle: handle)
            return host.status { () throws(AnalyzerError) in
                instance.pointee = Unmanaged.passRetained(InstanceBox(try factory.make(api, handle), host)).toOpaque()
            }
        }
        descriptor.consume = { instance, batch in
            // Safety: `instance` is the InstanceBox made by `create`, alive until `destroy`.
            guard let instance, let batch else { return gotrace_status(GOTRACE_ERROR_INTERNAL) }
            let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
            let events = UnsafeBufferPointer(start: batch.pointee.events, count: batch.pointee.event_count)
            let transitions = UnsafeBufferPointer(start: batch.pointee.transitions, count: batch.pointee.transition_count)
            // ABI 1.2's field, read only when the host's struct covers it.
            let fromStacksEnd = MemoryLayout<gotrace_batch>.offset(of: \.transition_from_stacks)!
                + MemoryLayout<UnsafePointer<UInt64>?>.size
            let fromStacks = Int(batch.pointee.struct_size) >= fromStacksEnd
                ? batch.pointee.transition_from_stacks.map { UnsafeBufferPointer(start: $0, count: transitions.count) }
                : nil
            return box.host.status { () throws(AnalyzerError) in
                try box.analyzer.consume(EventBatch(events: events, transitions: transitions,
                                                     fromStacks: fromStacks ?? UnsafeBufferPointer(start: nil, count: 0)))
            }
        }
        descriptor.finish = { instance in
            guard let instance else { return gotrace_status(GOTRACE_ERROR_INTERNAL) }
            // Safety: as in `consume`.
            let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
            return box.host.status { () throws(AnalyzerError) in try box.analyzer.finish() }
        }
        descriptor.destroy = { instance in
            guard let instance else { return }
            // Safety: balances the passRetained in `create`; the host calls destroy once.
            Unmanaged<InstanceBox>.fromOpaque(instance).release()
        }
        let pointer = UnsafeMutablePointer<gotrace_plugin_descriptor>.allocate(capacity: 1)
        pointer.initialize(to: descriptor)
        return pointer
    }
}

/// Type-erased `A.init(host:)`, so the C thunks need no generic context.
final class FactoryBox {
    let make: (UnsafePointer<gotrace_host_api>, OpaquePointer) throws(AnalyzerError) -> any Analyzer
    init(_ make: @escaping (UnsafePointer<gotrace_host_api>, OpaquePointer) throws(AnalyzerError) -> any Analyzer) {
        self.make = make
    }
}

/// One analyzer instance and the host it writes to.
final class InstanceBox {
    let analyzer: any Analyzer
    let host: AnalyzerHost
    init(_ analyzer: any Analyzer, _ host: AnalyzerHost) {
        self.analyzer = analyzer
        self.host = host
    }
}
