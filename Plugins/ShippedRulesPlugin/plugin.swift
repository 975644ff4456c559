import Foundation
import PackagePlugin

/// Embeds the shipped rules (`rules/*.yaml`) in the command, so that
/// `ark-probe run` evaluates them with no file to install; `--rules`
/// replaces them.
@main
struct ShippedRulesPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let rulesDirectory = context.package.directoryURL.appending(path: "rules")
        let files = try FileManager.default.contentsOfDirectory(atPath: rulesDirectory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
            .map { rulesDirectory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "ShippedRules.swift")
        return [.buildCommand(
            displayName: "Embedding the shipped rules from rules/",
            executable: try context.tool(named: "rules-embed").url,
            arguments: [output.path] + files.map(\.path),
            inputFiles: files,
            outputFiles: [output]
        )]
    }
}
