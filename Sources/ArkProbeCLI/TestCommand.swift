import RuleLanguage
import RuleTesting
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe test`: run rule test files, in the spirit of `promtool test rules`.
struct TestCommand: Subcommand {
    static let name = "test"
    static let abstract = "Run rule test files: the alerts expected on traces or inline events."
    static let usage = """
        USAGE: ark-probe test FILE|DIRECTORY... [--run REGEX] [--junit FILE]

        Runs rule test files: YAML files with a top-level "tests:" list (see
        "Write and test a rule" in the README). Each test replays a recorded
        trace or events written in the test through the rules, by event time,
        and compares the alerts with the ones it expects. A directory stands
        for every test file in it, at any depth. Prints PASS or FAIL for each
        test, with a diff of the expected and the actual alerts for each
        failure, then one line: "N passed, N failed". Needs no root.

        Exit status: 0 when every test passed; 1 when a test failed, or no
        test was selected; 2 when a test file cannot be read or is invalid
        (every error is shown with file:line:column); 64 for a usage error.

        OPTIONS:
          --run REGEX          Only the tests whose names match REGEX (POSIX
                               extended, anywhere in the name; as grep -E).
          --junit FILE         Also write a JUnit XML report to FILE.
          -h, --help           Show this help.
        """

    var paths: [String] = []
    var pattern: TestNamePattern?
    var junitPath: String?

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption(collecting: &paths) {
            switch name {
            case "--run":
                let text = try arguments.value(for: name, inline: inline)
                do { pattern = try TestNamePattern(text) } catch { throw UsageError("--run: \(error)") }
            case "--junit":
                junitPath = try arguments.value(for: name, inline: inline)
            default:
                throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        if paths.isEmpty {
            throw UsageError("test needs at least one test file or directory, e.g. 'ark-probe test rules/tests'")
        }
    }

    func run() -> Int32 {
        let loader = TestFileLoader(defaultRuleFiles: shippedRuleFiles.map { ($0.path, Array($0.text.utf8)) })
        let (files, missing) = YAMLFiles.find(paths)
        var invalidFiles = missing.map { (path: $0.file, errors: [$0]) }
        var results: [TestResult] = []
        var testFiles = 0
        for path in files {
            let source: SourceFile
            do { source = try SourceFile.read(path) } catch {
                invalidFiles.append((path, [error]))
                continue
            }
            guard case .testFile(let path, let root) = source else {
                // In a directory, rule files sit beside test files; named alone, it is a mistake.
                if paths.contains(path) {
                    invalidFiles.append((path, [RuleFileError(file: path, line: 1, column: 1, message:
                        "not a test file: a test file has a top-level 'tests:' list (this looks like a rule file)")]))
                }
                continue
            }
            testFiles += 1
            let loaded: LoadedTestFile
            do { loaded = try loader.load(root, path: path) } catch {
                invalidFiles.append((path, error.errors))
                continue
            }
            let progress = TerminalProgress.onTerminal(label: "ark-probe test: \(path)")
            let fileResults = TestRunner.run(loaded, selecting: pattern, progress: progress?.callback)
            progress?.finish()
            for result in fileResults {
                printOutput(FailureReport.text(for: result))
                results.append(result)
            }
        }
        for file in invalidFiles {
            for error in file.errors { printError(error.diagnosticLine) }
        }
        if testFiles == 0 && invalidFiles.isEmpty {
            printError("ark-probe test: no test files (YAML with a top-level 'tests:' list) in \(paths.joined(separator: ", "))")
            return 2
        }
        let passed = results.filter(\.passed).count
        printOutput(FailureReport.summary(passed: passed, failed: results.count - passed))
        if let junitPath {
            let xml = JUnitReport.xml(results: results, invalidFiles: invalidFiles)
            if let problem = writeFile(junitPath, xml) {
                printError("ark-probe test: cannot write the JUnit report: \(problem)")
                return 2
            }
        }
        if !invalidFiles.isEmpty {
            printError("ark-probe test: \(invalidFiles.count) test file\(invalidFiles.count == 1 ? " is" : "s are") "
                       + "invalid or unreadable; their tests did not run")
            return 2
        }
        if results.isEmpty, let pattern {
            printError("ark-probe test: no test name matches --run '\(pattern.pattern)'")
            return 1
        }
        return passed == results.count ? 0 : 1
    }
}

/// Replaces the file at `path` with `text`; what went wrong, or nil.
private func writeFile(_ path: String, _ text: String) -> String? {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { return "\(path): \(String(cString: strerror(errno)))" }
    defer { close(descriptor) }
    var remaining = Array(text.utf8)[...]
    while !remaining.isEmpty {
        let written = remaining.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return "\(path): \(String(cString: strerror(errno)))"
        }
        remaining = remaining.dropFirst(written)
    }
    return nil
}
