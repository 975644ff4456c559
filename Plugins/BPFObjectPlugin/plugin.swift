import Foundation
import PackagePlugin

/// Compiles every `bpf/*.bpf.c` with the toolchain's clang (CO-RE, BTF),
/// links them into one object with libbpf's static linker and embeds that
/// object in the target as a Swift source file. Nothing generated is
/// committed; `swift build` alone produces the self-contained binary.
@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDirectory = context.package.directoryURL.appending(path: "bpf")
        let names = try FileManager.default.contentsOfDirectory(atPath: bpfDirectory.path)
        let headers = names.filter { $0.hasSuffix(".h") }.sorted()
            .map { bpfDirectory.appending(path: $0) }
        // maps.bpf.c defines the shared maps; libbpf's linker wants the
        // definitions before the objects that declare them extern.
        let sources = names.filter { $0.hasSuffix(".bpf.c") }
            .sorted { ($0 == "maps.bpf.c" ? "" : $0) < ($1 == "maps.bpf.c" ? "" : $1) }
        guard !sources.isEmpty else {
            throw PluginError("no eBPF sources in \(bpfDirectory.path)")
        }

        let clang = try context.tool(named: "clang").url
        let workDirectory = context.pluginWorkDirectoryURL
        var commands: [Command] = []
        var objects: [URL] = []
        for source in sources {
            let input = bpfDirectory.appending(path: source)
            let object = workDirectory.appending(path: source.replacingOccurrences(of: ".c", with: ".o"))
            objects.append(object)
            commands.append(.buildCommand(
                displayName: "Compiling eBPF \(source)",
                executable: clang,
                arguments: [
                    "-target", "bpf", "-D__TARGET_ARCH_x86", "-O2", "-g",
                    "-Wall", "-Werror", "-Wno-default-const-init-var-unsafe",
                    "-I", bpfDirectory.path,
                    "-c", input.path, "-o", object.path,
                ],
                inputFiles: [input] + headers,
                outputFiles: [object]
            ))
        }

        let embedded = workDirectory.appending(path: "EmbeddedProbeObject.swift")
        commands.append(.buildCommand(
            displayName: "Linking and embedding the eBPF object",
            executable: try context.tool(named: "bpf-embed").url,
            arguments: [embedded.path] + objects.map(\.path),
            inputFiles: objects,
            outputFiles: [embedded]
        ))
        return commands
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
