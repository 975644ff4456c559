import RuleEngine
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// A test file ready to run: parsed, the files it names found, its rules
/// loaded, and every expectation checked against them.
public struct LoadedTestFile: Sendable {
    public let file: RuleTestFile
    public let rules: RuleSet
}

/// Loads test files: parses them, checks that the rule files and traces
/// they name exist (an error at the reference otherwise), loads their
/// rules, and checks each expectation against those rules (the rule
/// exists and is enabled, the labels and evidence fields it names exist).
public struct TestFileLoader: Sendable {
    /// The rules of a test file without `rule_files:` (the shipped ones).
    public let defaultRuleFiles: [(path: String, bytes: [UInt8])]

    public init(defaultRuleFiles: [(path: String, bytes: [UInt8])]) {
        self.defaultRuleFiles = defaultRuleFiles
    }

    public func load(_ root: YAMLNode, path: String) throws(RuleFileErrors) -> LoadedTestFile {
        let file = try TestFileParser.parse(root, path: path)
        var diagnostics = Diagnostics(file: path)
        for test in file.tests {
            if case .trace(let trace) = test.input, !isRegularFile(trace.path) {
                diagnostics.record(RuleFileError(file: path, at: trace.location.mark,
                                                 "cannot read the trace \(trace.path): \(problem(with: trace.path))"))
            }
        }
        var ruleFiles = defaultRuleFiles
        var ruleFilesRead = true
        if let references = file.ruleFiles {
            ruleFiles = []
            for reference in references {
                do {
                    ruleFiles += try RuleFiles.read([reference.path])
                } catch {
                    diagnostics.record(RuleFileError(file: path, at: reference.location.mark, error.description))
                    ruleFilesRead = false
                }
            }
        }
        var rules: RuleSet?
        if ruleFilesRead {
            // Errors in the rules are reported where they are, in the rule files.
            do { rules = try RuleEngine.load(files: ruleFiles) } catch { error.errors.forEach { diagnostics.record($0) } }
        }
        if let rules {
            for test in file.tests {
                for expectation in test.expectations { check(expectation, against: rules, diagnostics: &diagnostics) }
            }
        }
        guard diagnostics.errors.isEmpty, let rules else { throw RuleFileErrors(diagnostics.errors) }
        return LoadedTestFile(file: file, rules: rules)
    }

    private func problem(with path: String) -> String {
        access(path, F_OK) != 0 ? "no such file" : isDirectory(path) ? "it is a directory" : "not a regular file"
    }

    /// Catches what could never match: an unknown or disabled rule, a
    /// label the rule does not set, a field its alerts do not carry.
    private func check(_ expectation: Expectation, against rules: RuleSet, diagnostics: inout Diagnostics) {
        guard let name = expectation.rule, let mark = expectation.ruleMark else { return }
        guard let rule = rules.rules.first(where: { $0.name == name }) else {
            let known = rules.rules.map(\.name).joined(separator: ", ")
            diagnostics.record(mark, "unknown rule '\(name)'; the rule files of this test file define: \(known)")
            return
        }
        if !rule.isEnabled && expectation.kind != .silent {
            diagnostics.record(mark, "rule '\(name)' is disabled (enabled: false at \(rule.source)): it never fires")
        }
        let labels = rule.labels.map(\.name)
        for label in expectation.labels where !labels.contains(label.name) {
            diagnostics.record(label.mark, "rule '\(name)' has no label '\(label.name)'; its labels are: "
                               + (labels.isEmpty ? "none" : labels.joined(separator: ", ")))
        }
        let fields = (Subject.byName[rule.subject]?.fields.keys).map { $0.sorted() } ?? []
        for field in expectation.fields where !fields.contains(field.name) {
            diagnostics.record(field.mark, "the alerts of '\(name)' (on: \(rule.subject)) have no field '\(field.name)'; "
                               + "they have: \(fields.joined(separator: ", "))")
        }
    }
}
