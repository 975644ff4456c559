#if canImport(Glibc)
import Glibc
#endif

/// A command-line error: what was wrong and what to do instead.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A subcommand of ark-probe, in the manner of swift-argument-parser:
/// parse, then `validate()`, then `run()`.
protocol Subcommand {
    static var name: String { get }
    static var abstract: String { get }
    static var usage: String { get }
    init(parsing arguments: inout ArgumentReader) throws(UsageError)
    func validate() throws(UsageError)
    /// Returns the process exit status.
    func run() -> Int32
}

/// Reads `--name value`, `--name=value` and `--flag` from the arguments.
struct ArgumentReader {
    private var remaining: [String]
    private let command: String

    init(_ arguments: [String], command: String) {
        remaining = arguments
        self.command = command
    }

    var isEmpty: Bool { remaining.isEmpty }

    /// The next option, after moving the arguments before it that are not
    /// options (file names, say) into `positionals`.
    mutating func nextOption(collecting positionals: inout [String]) throws(UsageError)
        -> (name: String, inlineValue: String?)? {
        while let argument = remaining.first, !argument.hasPrefix("-") || argument == "-" {
            positionals.append(argument)
            remaining.removeFirst()
        }
        return try nextOption()
    }

    /// The next argument, if it is an option: its name and inline value.
    mutating func nextOption() throws(UsageError) -> (name: String, inlineValue: String?)? {
        guard let argument = remaining.first else { return nil }
        guard argument.hasPrefix("-") else {
            throw UsageError("unexpected argument '\(argument)'; see 'ark-probe \(command) --help'")
        }
        remaining.removeFirst()
        if let equals = argument.firstIndex(of: "=") {
            return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
        }
        return (argument, nil)
    }

    /// The value of option `name`, inline or as the next argument.
    mutating func value(for name: String, inline: String?) throws(UsageError) -> String {
        if let inline { return inline }
        guard let value = remaining.first, !value.hasPrefix("--") else {
            throw UsageError("\(name) needs a value; see 'ark-probe \(command) --help'")
        }
        remaining.removeFirst()
        return value
    }

    func unknown(_ name: String) -> UsageError {
        UsageError("unknown option '\(name)'; see 'ark-probe \(command) --help'")
    }
}

/// Parses a whole number in `range`, naming the option on failure.
func parseInteger<T: FixedWidthInteger>(_ text: String, option: String, as type: T.Type,
                                        range: ClosedRange<T>) throws(UsageError) -> T {
    guard let value = T(text), range.contains(value) else {
        throw UsageError("\(option) takes a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
    }
    return value
}

/// Writes to standard error: diagnostics never go to stdout, which carries JSONL.
func printError(_ text: String) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}

func printOutput(_ text: String) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in _ = write(STDOUT_FILENO, bytes.baseAddress, bytes.count) }
}
