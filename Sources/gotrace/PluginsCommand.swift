import ArgumentParser
import Foundation
import GoTraceAnalysis

/// Options shared by `plugins` and `report`: where to look for plugins.
struct PluginSearchOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp(
        "Load this plugin library (or every plugin in this directory) first. Repeatable.", valueName: "path"))
    var pluginPaths: [String] = []

    /// Searches in the documented order (docs/plugins.md, and `gotrace plugins --help`): --plugin,
    /// GOTRACE_PLUGIN_PATH, ~/.local/lib/gotrace/plugins, <executable's directory>/../lib/gotrace/plugins, the
    /// executable's directory.
    func discover() -> PluginCatalog {
        let directories = PluginLoader.searchDirectories(
            environment: ProcessInfo.processInfo.environment, executablePath: PluginLoader.currentExecutablePath())
        return PluginLoader.discover(explicitPaths: pluginPaths, directories: directories)
    }
}

/// Prints `error: <first>` and `caused by: <rest>` lines.
func printErrorChain(_ messages: [String]) {
    guard let first = messages.first else { return }
    printError("error: \(first)")
    for cause in messages.dropFirst() { printError("caused by: \(cause)") }
}

/// Exits (status 1) with `InputProtection`'s refusal if writing `output` could overwrite one of `inputs`.
func refuseToOverwrite(_ output: String, inputs: [String]) throws {
    guard let refusal = InputProtection.refusal(toWrite: output, inputs: inputs) else { return }
    printErrorChain(refusal)
    throw ExitCode(1)
}

/// Creates `directory` and its parents, or exits (status 1) saying it cannot create the `what`.
func createDirectory(_ directory: String, what: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
        printErrorChain(["cannot create \(what) \(directory)", "\(error.localizedDescription)"])
        throw ExitCode(1)
    }
}

extension PluginCatalog {
    /// The plugin named `name`; else exits (status 1) saying `missing` and which plugins were found.
    func require(_ name: String, missing: String) throws -> LoadedPlugin {
        if let plugin = plugin(named: name) { return plugin }
        let known = plugins.map(\.name).sorted().joined(separator: ", ")
        printErrorChain([missing, "plugins found: \(known.isEmpty ? "none" : known) (see `gotrace plugins`)"])
        throw ExitCode(1)
    }
}

extension AnalysisOutcome {
    /// Prints the reader's diagnostics; exits (status 1) if nothing of `trace` could be read.
    func requireReadable(_ trace: String) throws {
        for line in diagnostics { printError(line) }
        guard let fatal else { return }
        printErrorChain(["cannot read \(trace)", fatal])
        throw ExitCode(1)
    }
}

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the analyzer plugins gotrace finds: name, version, ABI, path and load errors.",
        // Each line is kept under 80 columns: ArgumentParser wraps longer ones without their indent.
        discussion: """
            Search order (the first plugin of a name wins; later ones are shadowed):
              1. each --plugin PATH: a library, or a directory to scan;
              2. each directory of GOTRACE_PLUGIN_PATH (colon-separated);
              3. ~/.local/lib/gotrace/plugins;
              4. ../lib/gotrace/plugins beside the gotrace executable: an installed
                 PREFIX/bin/gotrace finds PREFIX/lib/gotrace/plugins;
              5. the directory of the gotrace executable: a build's .build/<config>.
            The current directory is never searched unless named.
            """)

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var search: PluginSearchOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    struct Listing: Codable {
        struct Plugin: Codable {
            var name: String
            var version: String
            var abi: String
            var path: String
            var description: String
            var options: [Option]
        }
        struct Option: Codable {
            var key: String
            var help: String
            var defaultValue: String?
        }
        struct Failure: Codable {
            var path: String
            var error: [String]
        }
        struct Shadowed: Codable {
            var path: String
            var name: String
            var shadowedBy: String
        }
        var abi: String
        var plugins: [Plugin]
        var errors: [Failure]
        var shadowed: [Shadowed]
    }

    func run() throws {
        let catalog = search.discover()
        let listing = Listing(
            abi: "\(PluginLoader.abiMajor).\(PluginLoader.abiMinor)",
            plugins: catalog.plugins.map { plugin in
                Listing.Plugin(name: plugin.name, version: plugin.version, abi: "\(plugin.abiMajor).\(plugin.abiMinor)",
                               path: plugin.path, description: plugin.summary,
                               options: plugin.options.map { Listing.Option(key: $0.key, help: $0.help, defaultValue: $0.defaultValue) })
            },
            errors: catalog.failures.map { Listing.Failure(path: $0.path, error: $0.messages) },
            shadowed: catalog.shadowed.map { Listing.Shadowed(path: $0.path, name: $0.name, shadowedBy: $0.winner) })
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(listing), as: UTF8.self))
        case .text:
            print("plugin ABI \(listing.abi)")
            if listing.plugins.isEmpty { print("no plugins found") }
            for plugin in listing.plugins {
                print("\(plugin.name) \(plugin.version) (ABI \(plugin.abi))  \(plugin.path)")
                print("    \(plugin.description)")
                for option in plugin.options {
                    let fallback = option.defaultValue.map { " (default \($0))" } ?? ""
                    print("    --option \(plugin.name).\(option.key)=…  \(option.help)\(fallback)")
                }
            }
            for shadowed in listing.shadowed {
                print("\(shadowed.name) at \(shadowed.path): shadowed by \(shadowed.shadowedBy)")
            }
            for failure in listing.errors { printErrorChain(failure.error) }
        }
    }
}
