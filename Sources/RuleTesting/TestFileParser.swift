import RuleLanguage

/// Reads a rule test file (YAML) into a RuleTestFile, reporting every
/// error with its file, line and column and what was expected there.
/// Only the text is read: whether the files it names exist, and whether
/// its rules exist, is for TestFileLoader.
public enum TestFileParser {
    static let topLevelKeys = ["rule_files", "tests"]
    static let testKeys = ["name", "trace", "events", "until", "expect_firing", "expect_resolved", "expect_silent"]

    /// A test file is recognised by its top-level `tests:` key.
    public static func isTestFile(_ root: YAMLNode) -> Bool {
        guard case .mapping(let pairs, _) = root else { return false }
        return pairs.contains { pair in
            if case .scalar("tests", _, _) = pair.key { return true }
            return false
        }
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(RuleFileErrors) -> RuleTestFile {
        let root: YAMLNode
        do {
            root = try parseYAML(bytes, file: path)
        } catch {
            throw RuleFileErrors([error])
        }
        return try parse(root, path: path)
    }

    public static func parse(_ root: YAMLNode, path: String) throws(RuleFileErrors) -> RuleTestFile {
        var diagnostics = Diagnostics(file: path)
        guard let top = KeyedMapping.read(root, file: path, allowed: topLevelKeys, place: "at the top level of a test file",
                             diagnostics: &diagnostics) else { throw RuleFileErrors(diagnostics.errors) }
        top.require(["tests"], place: "at the top level of a test file", diagnostics: &diagnostics)
        let ruleFiles = top.read("rule_files", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try listItems(node, key: "rule_files", item: "the path of a rule file or directory, relative to this file", file: path)
                .map { item throws(RuleFileError) in
                    let (text, mark) = try nonEmptyText(item, key: "rule_files", file: path)
                    return FileReference(path: resolve(text, relativeTo: path), location: SourceLocation(file: path, mark: mark))
                }
        }
        var events = InlineEventParser(file: path)
        var tests: [RuleTest] = []
        if let node = top["tests"],
           let items = diagnostics.attempt({ () throws(RuleFileError) in
               try listItems(node, key: "tests", item: "a test with a name, an input and expectations", file: path)
           }) {
            if items.isEmpty { diagnostics.record(node.mark, "'tests' is empty: write at least one test") }
            var firstByName: [String: SourceMark] = [:]
            for item in items {
                guard let test = readTest(item, path: path, events: &events, diagnostics: &diagnostics) else { continue }
                if let first = firstByName[test.name] {
                    diagnostics.record(test.location.mark, "duplicate test name '\(test.name)' (first at \(first))")
                }
                firstByName[test.name] = firstByName[test.name] ?? test.location.mark
                tests.append(test)
            }
        }
        guard diagnostics.errors.isEmpty else { throw RuleFileErrors(diagnostics.errors) }
        return RuleTestFile(path: path, ruleFiles: ruleFiles, tests: tests,
                            dropReasonNames: Dictionary(uniqueKeysWithValues: events.reasonCodes.map { ($1, $0) }))
    }

    private static func readTest(_ node: YAMLNode, path: String, events: inout InlineEventParser,
                                 diagnostics: inout Diagnostics) -> RuleTest? {
        let errorsBefore = diagnostics.errors.count
        guard let keys = KeyedMapping.read(node, file: path, allowed: testKeys, place: "in a test", diagnostics: &diagnostics) else { return nil }
        keys.require(["name"], place: "in a test", diagnostics: &diagnostics)
        let name = keys.read("name", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try nonEmptyText(node, key: "name", file: path).text
        }
        let input = readInput(keys, path: path, events: &events, diagnostics: &diagnostics)
        let until = keys.read("until", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try duration(node, key: "until", file: path)
        }
        let expectations = ExpectationParser(file: path)
        var expected: [Expectation] = []
        for kind in [Expectation.Kind.firing, .resolved, .silent] {
            if let node = keys["expect_\(kind.rawValue)"] {
                expected += expectations.parse(node, kind: kind, diagnostics: &diagnostics)
            }
        }
        expected.sort { $0.location.mark < $1.location.mark }
        if !keys.keys.contains(where: { $0.name.hasPrefix("expect_") }) {
            diagnostics.record(keys.mark, "a test needs expectations: 'expect_firing', 'expect_resolved' or 'expect_silent'")
        }
        guard diagnostics.errors.count == errorsBefore, let name, let input else { return nil }
        return RuleTest(name: name, location: SourceLocation(file: path, mark: keys.mark), input: input, until: until,
                        expectations: expected)
    }

    /// Exactly one of `trace:` and `events:`.
    private static func readInput(_ keys: KeyedMapping, path: String, events: inout InlineEventParser,
                                  diagnostics: inout Diagnostics) -> TestInput? {
        switch (keys["trace"], keys["events"]) {
        case (nil, nil):
            diagnostics.record(keys.mark, "a test needs an input: 'trace' (a recorded trace file) or 'events' (a list of events)")
            return nil
        case (.some, .some(let node)):
            diagnostics.record(keys.mark(ofKey: "events") ?? node.mark, "give either 'trace' or 'events', not both")
            return nil
        case (let trace?, nil):
            return diagnostics.attempt { () throws(RuleFileError) in
                let (text, mark) = try nonEmptyText(trace, key: "trace", file: path)
                return .trace(FileReference(path: resolve(text, relativeTo: path), location: SourceLocation(file: path, mark: mark)))
            }
        case (nil, let node?):
            return events.parse(node, diagnostics: &diagnostics).map(TestInput.events)
        }
    }
}
