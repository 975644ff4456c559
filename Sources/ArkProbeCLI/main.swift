#if canImport(Glibc)
import Glibc
#endif

let version = "0.1.0"

func allSubcommands() -> [any Subcommand.Type] { [RunCommand.self, FeaturesCommand.self, RecordCommand.self, ReplayCommand.self, GraphCommand.self, TestCommand.self, CheckCommand.self] }

func printHelp() {
    var text = """
        ark-probe \(version): which process is held up by the network, and why.
        Captures TCP retransmissions and drops with eBPF, attributes each to the
        process that owns the socket, and writes JSONL.

        USAGE: ark-probe <subcommand> [options]

        SUBCOMMANDS:

        """
    for command in allSubcommands() {
        text += "  " + command.name.padding(to: 10) + command.abstract + "\n"
    }
    text += "\nSee 'ark-probe <subcommand> --help' for the options of each."
    printOutput(text)
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}

func main() -> Int32 {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let name = arguments.first else {
        printHelp()
        return 64
    }
    arguments.removeFirst()
    switch name {
    case "-h", "--help", "help":
        printHelp()
        return 0
    case "--version":
        printOutput(version)
        return 0
    default:
        break
    }
    guard let command = allSubcommands().first(where: { $0.name == name }) else {
        printError("ark-probe: unknown subcommand '\(name)'; see 'ark-probe --help'")
        return 64
    }
    if arguments.contains("--help") || arguments.contains("-h") {
        printOutput(command.usage)
        return 0
    }
    do throws(UsageError) {
        var reader = ArgumentReader(arguments, command: name)
        let parsed = try command.init(parsing: &reader)
        try parsed.validate()
        return parsed.run()
    } catch {
        printError("ark-probe \(name): \(error)")
        return 64
    }
}

exit(main())
