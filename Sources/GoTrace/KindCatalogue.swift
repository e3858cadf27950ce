// KindCatalogue.swift — the kinds a trace may hold: the built-in table, extended or joined by the file's own
// kind table (docs/trace-format.md, the kind-table chunk). Every reader merges through this one type.
//
// Merging (EventKindSpec.merging): a code this build knows keeps its spec and gains any arguments the file
// appends; an unknown code takes the file's spec; a file spec that contradicts the known wire types, or adds
// nothing, changes nothing (the file is then most likely damaged). A second kind table merges onto the
// result of the first.

/// The names and argument lists of every kind a trace may contain.
public struct KindCatalogue: Sendable {
    /// Indexed by wire code; nil where neither this build nor the file defines the code.
    public private(set) var specs: [EventKindSpec?] = EventKindSpec.builtInByCode

    public init() {}

    /// Merges a file's kind table into this one.
    public mutating func adopt(_ fileSpecs: [EventKindSpec]) {
        for fileSpec in fileSpecs {
            let code = Int(fileSpec.kind.rawValue)
            if let merged = EventKindSpec.merging(fileSpec, into: specs[code]) { specs[code] = merged }
        }
    }

    /// The wire code of the kind called `name` (`"stack-grow"`), if the catalogue has one.
    public func code(named name: String) -> UInt8? { specs.compactMap { $0 }.first { $0.name == name }?.kind.rawValue }
}
