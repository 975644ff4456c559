import XCTest
@testable import RuleLanguage

/// Every bad input gets an error with the exact file, line and column.
final class BadInputTests: XCTestCase {
    /// Line 1 is `rules:`, the rule's keys are on lines 2 to 7, from column 5.
    static let rule = """
    rules:
      - rule: stalled
        description: a process waits on the network
        on: process
        condition: retransmits > 3
        severity: warning
        message: task {pid} is stalled
    """

    static func rule(_ old: String, _ new: String) -> String {
        rule.replacingOccurrences(of: old, with: new)
    }

    static func condition(_ text: String) -> String {
        rule("retransmits > 3", text)
    }

    struct Case {
        let name: String
        let bytes: [UInt8]
        let position: String
        let fragment: String

        init(_ name: String, _ text: String, _ position: String, _ fragment: String) {
            self.init(name, bytes: Array(text.utf8), position, fragment)
        }

        init(_ name: String, bytes: [UInt8], _ position: String, _ fragment: String) {
            self.name = name
            self.bytes = bytes
            self.position = position
            self.fragment = fragment
        }
    }

    static let cases: [Case] = [
        // The YAML itself.
        Case("unclosed flow sequence", "rules: [\n", "2:1", "did not find expected node content (while parsing a flow node at 2:1)"),
        Case("bad indentation", "rules:\n  - rule: a\n description: b\n", "3:2", "did not find expected key"),
        Case("tab indentation", "rules:\n\t- rule: a\n", "2:1", "YAML does not allow tabs for indentation, use spaces"),
        Case("NUL byte", bytes: Array("rules: []\n# x".utf8) + [0] + Array("\n".utf8), "2:4", "control characters are not allowed (character 0x0)"),
        Case("invalid UTF-8", bytes: Array("rules:\n  - rule: é".utf8) + [0xFF], "2:12", "not valid UTF-8 (byte 0xFF)"),
        Case("truncated UTF-8", bytes: Array("a: ".utf8) + [0xE2, 0x82], "1:4", "not valid UTF-8 (byte 0xE2)"),
        Case("file over 1 MiB", "rules: []\n" + String(repeating: "#", count: 1 << 20), "1:1", "larger than 1 MiB"),
        Case("deep nesting", "rules: " + String(repeating: "[", count: 70), "1:71", "nesting deeper than 64 levels is not supported"),
        Case("anchor", "rules: &all []\n", "1:8", "anchors (&all) are not supported"),
        Case("alias", "rules: *all\n", "1:8", "aliases (*name) are not supported"),
        Case("tag", "rules: !!seq []\n", "1:8", "tags (tag:yaml.org,2002:seq) are not supported"),
        Case("two documents", "rules: []\n---\nrules: []\n", "2:1", "only one YAML document per file is supported"),
        Case("empty file", "", "1:1", "the file holds no YAML document"),
        Case("empty document", "--- # nothing\n", "2:1", "the YAML document is empty"),
        Case("duplicate key", "rules: []\nlists: {}\nrules: []\n", "3:1", "duplicate key 'rules' (first at 1:1)"),
        Case("mapping as a key", "? [a]\n: b\n", "1:3", "a mapping key must be a single value, not a list"),
        // The file's structure.
        Case("top level is a list", "- rules\n", "1:1", "expected a mapping with the keys rules, lists, macros, not a list"),
        Case("unknown top-level key", "rules: []\nrulez: []\n", "2:1", "unknown key 'rulez' at the top level (did you mean 'rules'?)"),
        Case("missing rules", "lists: {}\n", "1:1", "missing required key 'rules' at the top level"),
        Case("rules is a mapping", "rules: {a: b}\n", "1:8", "'rules' must be a list of rules, not a mapping"),
        Case("rule is a scalar", "rules: [stalled]\n", "1:9", "expected a mapping with the keys rule, description"),
        Case("missing rule keys", "rules:\n  - rule: a\n    on: process\n", "2:5",
             "missing required keys 'description', 'condition', 'severity', 'message' in a rule"),
        Case("misspelt rule key", rule("severity:", "keep_firing: 1m\n    severity:"), "6:5", "unknown key 'keep_firing' in a rule (did you mean 'keep_firing_for'?)"),
        Case("bad rule name", rule("rule: stalled", "rule: Stalled!"), "2:11", "invalid rule name 'Stalled!': use only a-z, 0-9 and '-'"),
        Case("empty description", rule("description: a process waits on the network", "description: ''"), "3:18", "'description' must not be empty"),
        Case("description is a list", rule("description: a process waits on the network", "description: [a]"), "3:18",
             "'description' must be a single value, not a list"),
        Case("unknown subject", rule("on: process", "on: proces"), "4:9", "unknown subject 'proces' for 'on' (did you mean 'process'?)"),
        Case("unrelated subject", rule("on: process", "on: socket"), "4:9", "unknown subject 'socket' for 'on'; expected one of: peer, process"),
        Case("bad severity", rule("severity: warning", "severity: warn"), "6:15", "'severity' must be critical, warning or info, not 'warn' (did you mean 'warning'?)"),
        Case("for without unit", rule("severity:", "for: 30\n    severity:"), "6:10", "'for' must be a duration like 30s, 5m or 1h, not '30'"),
        Case("for too long", rule("severity:", "for: 25h\n    severity:"), "6:10", "'for' must be at most 24h, not 25h"),
        Case("negative keep_firing_for", rule("severity:", "keep_firing_for: -1s\n    severity:"), "6:22", "'keep_firing_for' must be a duration"),
        Case("enabled is yes", rule("severity:", "enabled: yes\n    severity:"), "6:14", "'enabled' must be true or false, not 'yes'"),
        Case("bad label name", rule("severity:", "labels: {1team: x}\n    severity:"), "6:14", "invalid label name '1team'"),
        Case("label value is a list", rule("severity:", "labels: {team: [x]}\n    severity:"), "6:20", "'team' must be a single value, not a list"),
        Case("labels is a list", rule("severity:", "labels: [x]\n    severity:"), "6:13", "'labels' must map label names to values, not be a list"),
        Case("duplicate label", rule("severity:", "labels: {a: x, a: y}\n    severity:"), "6:20", "duplicate key 'a' (first at 6:14)"),
        // Expressions.
        Case("condition is a mapping", condition("{a: b}"), "5:16", "'condition' must be a single value, not a mapping"),
        Case("empty condition", condition("''"), "5:17", "expected a value, found the end of the expression"),
        Case("unterminated string", condition("comm == \"python"), "5:24", "unterminated string: close it with \""),
        Case("huge number", condition("retransmits > 123456789012345678901234567890"), "5:30", "is too large (the limit is 9007199254740992)"),
        Case("deep parentheses", condition(String(repeating: "(", count: 80) + "true" + String(repeating: ")", count: 80)), "5:80",
             "the expression nests deeper than 64 levels"),
        Case("long chain", condition(Array(repeating: "stalled", count: 120).joined(separator: " or ")), "5:1113",
             "the expression nests deeper than 100 levels"),
        Case("single equals", condition("retransmits = 3"), "5:28", "'=' is not an operator; use '==' to compare"),
        Case("NUL in a quoted condition", condition("\"retransmits > 3 \\0\""), "5:33", "unexpected character U+0000"),
        Case("tab inside a condition", condition("\"retransmits >\\t3 and x\""), "5:38", "unknown field 'x'"),
        Case("type error", condition("comm > 3"), "5:21", "cannot compare a string with a number"),
        Case("not a boolean", condition("retransmits * 2"), "5:28", "a condition must be true or false, but this is a number"),
        Case("unknown field", condition("retransmit_rte > 1"), "5:16", "unknown field 'retransmit_rte' (did you mean 'retransmit_rate'?)"),
        Case("unknown function", condition("rates(segments, 30s) > 1"), "5:16", "unknown function 'rates' (did you mean 'rate'?)"),
        Case("wrong arity", condition("rate(segments) > 1"), "5:16", "'rate' takes rate(FIELD, WINDOW), not 1 argument"),
        Case("window out of range", condition("count(2h) > 1"), "5:22", "the window 2h of 'count' is out of range (1s to 1h)"),
        Case("non-literal window", condition("count(backoff) > 1"), "5:22", "the window of 'count' must be a duration literal like 30s"),
        Case("nested aggregate", condition("count(count(1s) > 1, 30s) > 1"), "5:22", "aggregates cannot be nested: 'count' inside 'count'"),
        Case("unknown list", condition("comm in trainers"), "5:24", "unknown list 'trainers'"),
        // Lists and macros.
        Case("list mixes types", rule + "\nlists:\n  ports: [80, http]\n", "9:15", "this item of list 'ports' is a string, but the first is a number"),
        Case("list is a scalar", rule + "\nlists:\n  ports: 80\n", "9:10", "list 'ports' must be a list of values like [a, b], not a single value"),
        Case("list of lists", rule + "\nlists:\n  ports: [[80]]\n", "9:11", "the items of list 'ports' must be single values, not a list"),
        Case("bad list name", rule + "\nlists:\n  in: [a]\n", "9:3", "invalid list name 'in'"),
        Case("macro cycle", condition("busy") + "\nmacros:\n  busy: slow and stalled\n  slow: busy\n", "10:9", "macro cycle: busy -> slow -> busy"),
        Case("macro refers to itself", condition("busy") + "\nmacros:\n  busy: busy or stalled\n", "9:9", "macro cycle: busy -> busy"),
        Case("macro parse error", condition("busy") + "\nmacros:\n  busy: retransmits >\n", "9:22", "expected a value, found the end of the expression"),
        Case("macro named like a list", condition("true") + "\nlists:\n  x: [1]\nmacros:\n  x: stalled\n", "11:3", "'x' is already the name of a list"),
        Case("macros is a list", condition("true") + "\nmacros: [a]\n", "8:9", "'macros' must map macro names to expressions, not be a list"),
        Case("macro explosion", condition("m0") + "\nmacros:\n" + (0..<16).map { "  m\($0): m\($0 + 1) or m\($0 + 1)" }.joined(separator: "\n")
             + "\n  m16: stalled\n", "13:10", "the expression is too large with its macros expanded (more than 10000 parts)"),
        // Message templates.
        Case("unclosed placeholder", rule("task {pid} is stalled", "task {pid is stalled"), "7:19", "'{' starts a placeholder that is never closed with '}'"),
        Case("lone closing brace", rule("task {pid} is stalled", "task pid} is stalled"), "7:22", "a single '}' in a message must be written '}}'"),
        Case("empty placeholder", rule("task {pid} is stalled", "task { } is stalled"), "7:19", "empty placeholder"),
        Case("unknown placeholder field", rule("task {pid} is stalled", "task {pidd} is stalled"), "7:20", "unknown field 'pidd' (did you mean 'pid'?)"),
        Case("placeholder syntax error", rule("task {pid} is stalled", "task {pid +} is stalled"), "7:25", "expected a value, found the end of the expression"),
        Case("empty message", rule("message: task {pid} is stalled", "message: \"\""), "7:14", "'message' must not be empty"),
    ]

    func testEveryBadInputIsLocated() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 40)
        for test in Self.cases {
            let errors = loadErrors(bytes: test.bytes, file: "bad.yaml")
            guard let first = errors.first else {
                XCTFail("\(test.name): no error")
                continue
            }
            XCTAssertEqual(errors.count, 1, "\(test.name): \(errors)")
            XCTAssertEqual("\(first.file):\(first.line):\(first.column)", "bad.yaml:\(test.position)", test.name)
            XCTAssertTrue(first.message.contains(test.fragment), "\(test.name): \(first.message)")
        }
    }

    func testDuplicateRuleNamesAcrossFiles() {
        XCTAssertThrowsError(try loadTestRules([("a.yaml", Self.rule), ("b.yaml", "# second\n" + Self.rule)])) { error in
            XCTAssertEqual((error as? RuleFileErrors)?.description,
                           "b.yaml:3:11: duplicate rule name 'stalled' (first defined at a.yaml:2:11)")
        }
    }

    func testErrorsAreSortedByFileAndPosition() {
        XCTAssertThrowsError(try loadTestRules([("b.yaml", Self.condition("nope")), ("a.yaml", Self.rule("severity: warning", "severity: x"))])) { error in
            XCTAssertEqual((error as? RuleFileErrors)?.description, """
                a.yaml:2:11: duplicate rule name 'stalled' (first defined at b.yaml:2:11)
                a.yaml:6:15: 'severity' must be critical, warning or info, not 'x'
                b.yaml:5:16: unknown field 'nope'
                """)
        }
    }
}
