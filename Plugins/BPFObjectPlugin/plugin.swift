import Foundation
import PackagePlugin

/// Builds every `bpf/*.bpf.c` into one eBPF object and embeds it in the
/// target as a Swift source file (see Sources/BPFEmbed). Nothing generated
/// is committed; `swift build` alone produces the self-contained binary.
/// A target with `*.bpf.c` files of its own (a benchmark's event source)
/// gets an object built from those instead, with bpf/ on the include path,
/// so that nothing of it reaches the shipped probe.
///
/// One command does it all so that its only output is Swift source: object
/// files declared as outputs would become resources of the target, and a
/// resource bundle drags Foundation into the agent.
@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDirectory = context.package.directoryURL.appending(path: "bpf")
        let names = try FileManager.default.contentsOfDirectory(atPath: bpfDirectory.path).sorted()
        let inputs = names.filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") }
            .map { bpfDirectory.appending(path: $0) }
        let targetDirectory = URL(fileURLWithPath: target.directory.string)
        let ownSources = try FileManager.default.contentsOfDirectory(atPath: targetDirectory.path).sorted()
            .filter { $0.hasSuffix(".bpf.c") }.map { targetDirectory.appending(path: $0) }
        let sources = ownSources.isEmpty ? inputs.filter { $0.lastPathComponent.hasSuffix(".bpf.c") } : ownSources
        guard !sources.isEmpty else {
            throw PluginError("no eBPF sources (*.bpf.c) in \(bpfDirectory.path)")
        }
        let embedded = context.pluginWorkDirectoryURL.appending(path: "EmbeddedProbeObject.swift")
        return [.buildCommand(
            displayName: "Building and embedding the eBPF object from bpf/",
            executable: try context.tool(named: "bpf-embed").url,
            arguments: [
                "--clang", try context.tool(named: "clang").url.path,
                "--include", bpfDirectory.path,
                "--work-directory", context.pluginWorkDirectoryURL.path,
                "--output", embedded.path,
            ] + sources.map(\.path),
            inputFiles: inputs + ownSources,
            outputFiles: [embedded]
        )]
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
