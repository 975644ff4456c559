#if canImport(Glibc)
import Glibc
#endif

/// The three fuzz targets of ArkProbe's parsers, shared by the libFuzzer
/// executables (Tests/Fuzz/fuzz-*), their plain replay mode and the
/// FuzzRegressionTests. Each target turns arbitrary bytes into one input of
/// a parser, runs it to the end, and checks what the parser promises:
/// it returns, and every error it reports is located inside the input.
/// A broken promise is a *violation*; the fuzzers abort on it so that
/// libFuzzer keeps the input as a crash.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Bytes → one rule file → `RuleEngine.load` (the agent's loader), and
    /// the rules it accepts run over a small scenario.
    case ruleLoader = "rule-loader"
    /// Bytes → the text of an expression, embedded in a rule file as a
    /// condition, a value and a macro body.
    case expression
    /// Bytes → a trace file → `TraceReader` in both modes, plus
    /// `JSONValue(parsing:)` over the whole input.
    case traceReader = "trace-reader"

    /// The executable that fuzzes this target.
    public var executableName: String { "fuzz-" + rawValue }

    /// Runs one input. Never traps by itself: a crash here is a bug of the
    /// code under test (or of the sanitizers' findings).
    public func run(_ bytes: [UInt8]) -> FuzzOutcome {
        switch self {
        case .ruleLoader: RuleLoaderHarness.run(bytes)
        case .expression: ExpressionHarness.run(bytes)
        case .traceReader: TraceReaderHarness.run(bytes)
        }
    }
}

/// What one input did.
public struct FuzzOutcome: Sendable, CustomStringConvertible {
    /// The input was accepted as a whole (rules loaded, every trace line read).
    public var accepted: Bool
    /// The errors the code under test reported, as it words them
    /// (`file:line:column: message`).
    public var errors: [LocatedError]
    /// Broken promises: an error outside the input, a line dropped
    /// silently, a reader that does not advance, a round trip that differs.
    public var violations: [String]
    /// A short account for replay output (rules loaded, entries read, …).
    public var summary: String

    public init(accepted: Bool, errors: [LocatedError] = [], violations: [String] = [], summary: String) {
        self.accepted = accepted
        self.errors = errors
        self.violations = violations
        self.summary = summary
    }

    public var description: String {
        var text = (accepted ? "accepted" : "rejected") + ": " + summary
        if let first = errors.first { text += "; first error: \(first)" }
        for violation in violations { text += "\n  VIOLATION: \(violation)" }
        return text
    }
}

/// An error as the code under test reported it.
public struct LocatedError: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// nil when the error concerns a whole line (trace reader only).
    public var column: Int?
    public var message: String

    public var description: String {
        "\(file):\(line)" + (column.map { ":\($0)" } ?? "") + ": \(message)"
    }
}

// MARK: - Running inputs

extension FuzzTarget {
    /// The body of `LLVMFuzzerTestOneInput`: runs the input and aborts on a
    /// violation, so libFuzzer saves it as a crash.
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        let outcome = run(bytes)
        guard outcome.violations.isEmpty else {
            writeError("\(executableName): \(outcome)\n")
            abort()
        }
    }

#if FUZZING
    /// The fuzzing main: libFuzzer's driver, with libFuzzer's command line
    /// (SwiftPM makes main.swift's top-level code the program's `main`,
    /// in place of libFuzzer's own, so main.swift starts the driver).
    public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }
#endif

    /// The plain main: `replayMain` over the command line's arguments, then
    /// exits with its status.
    public func replayCommandLine() -> Never {
        exit(replayMain(Array(CommandLine.arguments.dropFirst())))
    }

    /// The plain (non-fuzzing) main: runs every file named on the command
    /// line, and every regular file in the directories named, in name
    /// order. Arguments starting with '-' (libFuzzer flags) are ignored;
    /// `-v` prints an outcome per file. Exit status 1 when any input broke
    /// a promise, 2 when an argument cannot be read.
    public func replayMain(_ arguments: [String]) -> Int32 {
        let verbose = arguments.contains("-v")
        let paths = arguments.filter { !$0.hasPrefix("-") }
        guard !paths.isEmpty else {
            writeError("usage: \(executableName) [-v] FILE|DIRECTORY...\n"
                + "  replays inputs through the \(rawValue) harness (build with -DFUZZING for libFuzzer)\n")
            return 2
        }
        var inputs = 0
        var accepted = 0
        var broken = 0
        for path in paths {
            guard let files = inputFiles(at: path) else {
                writeError("\(executableName): cannot read \(path)\n")
                return 2
            }
            for file in files {
                guard let bytes = readFile(file) else {
                    writeError("\(executableName): cannot read \(file)\n")
                    return 2
                }
                let outcome = run(bytes)
                inputs += 1
                if outcome.accepted { accepted += 1 }
                if !outcome.violations.isEmpty {
                    broken += 1
                    writeError("\(file): \(outcome)\n")
                } else if verbose {
                    print("\(file): \(outcome)")
                }
            }
        }
        print("\(executableName): \(inputs) inputs, \(accepted) accepted, \(inputs - accepted) rejected, \(broken) with violations")
        return broken == 0 ? 0 : 1
    }
}

#if FUZZING
/// libFuzzer's entry point for programs with their own main
/// (compiler-rt/lib/fuzzer/FuzzerInterface.h); a C function of ints and
/// pointers, which the Swift calling convention passes the same way.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

/// The regular files under `path` (itself when it is a file), sorted; nil
/// when it cannot be read.
public func inputFiles(at path: String) -> [String]? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    guard (status.st_mode & S_IFMT) == S_IFDIR else { return [path] }
    guard let stream = opendir(path) else { return nil }
    defer { closedir(stream) }
    var files: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasPrefix(".") { continue }
        let file = path.hasSuffix("/") ? path + name : path + "/" + name
        var fileStatus = stat()
        if stat(file, &fileStatus) == 0, (fileStatus.st_mode & S_IFMT) == S_IFREG { files.append(file) }
    }
    return files.sorted()
}

/// The whole content of a file; nil on error.
public func readFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if count == 0 { return bytes }
        bytes.append(contentsOf: buffer[0..<count])
    }
}

/// Replaces the content of `path` with `bytes`; false on error.
func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
        if count < 0 {
            if errno == EINTR { continue }
            return false
        }
        written += count
    }
    return true
}

func writeError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
