import RuleLanguage
@testable import RuleTesting
import XCTest

/// Every bad test file gets errors with the exact line and column, saying
/// what was expected.
final class TestFileParserTests: XCTestCase {
    /// Line 1 `tests:`; the test's keys on lines 2 to 5, from column 5.
    static let test = """
    tests:
      - name: stalls
        events:
          - {at: 0s, type: transport.drop, pid: 1024, cause: rto}
        expect_firing:
          - {rule: stalled, pid: 1024, within: [0s, 2s]}
    """

    static func test(_ old: String, _ new: String) -> String {
        let replaced = test.replacingOccurrences(of: old, with: new)
        precondition(replaced != test, "'\(old)' is not in the sample")
        return replaced
    }

    struct Case {
        let name: String
        let text: String
        let position: String
        let fragment: String

        init(_ name: String, _ text: String, _ position: String, _ fragment: String) {
            self.name = name
            self.text = text
            self.position = position
            self.fragment = fragment
        }
    }

    static let cases: [Case] = [
        // The file as a whole.
        Case("YAML syntax", "tests: [\n", "2:1", "did not find expected node content"),
        Case("not a mapping", "- a\n", "1:1", "expected a mapping at the top level of a test file with the keys rule_files, tests, not a list"),
        Case("unknown top-level key", "test: []\n", "1:1", "unknown key 'test' at the top level of a test file; expected one of: rule_files, tests"),
        Case("no tests key", "rule_files: []\n", "1:1", "missing required key 'tests' at the top level"),
        Case("tests not a list", "tests: {a: b}\n", "1:8", "'tests' must be a list (lines starting with '- ')"),
        Case("tests empty", "tests: []\n", "1:8", "'tests' is empty"),
        Case("rule_files not a list", "rule_files: a.yaml\n" + test, "1:13", "'rule_files' must be a list"),
        Case("rule_files item not a path", "rule_files: [{a: b}]\n" + test, "1:14", "'rule_files' must be a single value, not a mapping"),
        // A test.
        Case("test not a mapping", "tests:\n  - just a name\n", "2:5", "expected a mapping in a test with the keys name, trace, events"),
        Case("unknown test key", test("    events:", "    evnets: []\n    events:"), "3:5", "unknown key 'evnets' in a test; expected one of: name, trace, events"),
        Case("no name", test("  - name: stalls\n    events:", "  - events:"), "2:5", "missing required key 'name' in a test"),
        Case("empty name", test("name: stalls", "name: ''"), "2:11", "'name' must not be empty"),
        Case("no input", test("""
                events:
                  - {at: 0s, type: transport.drop, pid: 1024, cause: rto}

            """, ""), "2:5", "a test needs an input: 'trace' (a recorded trace file) or 'events' (a list of events)"),
        Case("two inputs", test("    events:", "    trace: a.jsonl\n    events:"), "4:5", "give either 'trace' or 'events', not both"),
        Case("no expectations", test("""
                expect_firing:
                  - {rule: stalled, pid: 1024, within: [0s, 2s]}
            """, "    until: 5s"), "2:5", "a test needs expectations"),
        Case("bad until", test("    events:", "    until: soon\n    events:"), "3:12", "'until' must be a duration like 250ms, 1.5s, 2m or 1h, not 'soon'"),
        Case("until over a day", test("    events:", "    until: 25h\n    events:"), "3:12", "'until' must be at most 24h"),
        Case("duplicate test name", test + "\n  - name: stalls\n    events: [{at: 0s, type: process.exit}]\n    expect_silent: [{}]\n",
             "7:5", "duplicate test name 'stalls' (first at 2:5)"),
        // Inline events.
        Case("events not a list", test("""
                events:
                  - {at: 0s, type: transport.drop, pid: 1024, cause: rto}
            """, "    events: {at: 0s}"), "3:13", "'events' must be a list"),
        Case("events empty", test("""
                events:
                  - {at: 0s, type: transport.drop, pid: 1024, cause: rto}
            """, "    events: []"), "3:13", "'events' is empty"),
        Case("event without type", test("type: transport.drop, ", ""), "4:9", "missing required key 'type' in an event"),
        Case("unknown event type", test("transport.drop", "transport.dorp"), "4:24", "'type' must be one of transport.drop, transport.retransmit_failed"),
        Case("unknown event key", test("pid: 1024,", "pid: 1024, pdi: 1,"), "4:51", "unknown key 'pdi' in an event; expected one of: at, every"),
        Case("key of another type", test("cause: rto", "reason: NETFILTER_DROP"), "4:51", "'reason' does not apply to transport.drop events; they take: pid, tid"),
        Case("bad time", test("at: 0s", "at: 0.5"), "4:14", "'at' must be a duration like 250ms"),
        Case("negative time", test("at: 0s", "at: -1s"), "4:14", "'at' must be a duration"),
        Case("bad pid", test("pid: 1024, cause", "pid: -1, cause"), "4:45", "'pid' must be a whole number from 0 to 4294967295, not '-1'"),
        Case("bad port", test("cause: rto", "dport: 70000"), "4:58", "'dport' must be a whole number from 0 to 65535, not '70000'"),
        Case("bad address", test("cause: rto", "daddr: 10.0.0.256"), "4:58", "'daddr' must be an IPv4 or IPv6 address such as 10.0.0.2, not '10.0.0.256'"),
        Case("mixed families", test("cause: rto", "saddr: 10.0.0.1, daddr: '::1'"), "4:68", "'saddr' and 'daddr' must both be IPv4 or both IPv6"),
        Case("bad cause", test("cause: rto", "cause: timeout"), "4:58", "'cause' must be one of unknown, rto, fast, tlp, syn, synack, other, not 'timeout'"),
        Case("bad tcp state", test("cause: rto", "tcp_state: established"), "4:62", "'tcp_state' must be one of UNKNOWN, ESTABLISHED"),
        Case("long comm", test("cause: rto", "comm: a-very-long-command"), "4:57", "'comm' must be at most 15 bytes"),
        Case("bad errno", test("type: transport.drop, pid: 1024, cause: rto", "type: transport.retransmit_failed, pid: 1, error: EBUZY"),
             "4:68", "'error' must be an errno name such as EBUSY, ENOMEM or EAGAIN, not 'EBUZY'"),
        Case("every without end", test("at: 0s,", "at: 0s, every: 1s,"), "4:9", "'every' needs 'until' (the last time) or 'count' (how many events)"),
        Case("until without every", test("at: 0s,", "at: 0s, until: 1s,"), "4:9", "'until' and 'count' repeat an event: they need 'every'"),
        Case("until and count", test("at: 0s,", "at: 0s, every: 1s, until: 2s, count: 2,"), "4:9", "give either 'until' or 'count' with 'every', not both"),
        Case("zero interval", test("at: 0s,", "at: 0s, every: 0s, count: 2,"), "4:25", "'every' must be longer than 0s"),
        Case("until before at", test("at: 0s,", "at: 5s, every: 1s, until: 2s,"), "4:36", "'until' (2s) must not be before 'at' (5s)"),
        Case("too many events", test("at: 0s,", "at: 0s, every: 1ms, until: 2m,"), "4:9", "longer than 100000 events"),
        Case("count too large", test("at: 0s,", "at: 0s, every: 1ms, count: 100001,"), "4:37", "'count' must be a whole number from 1 to 100000"),
        // Expectations.
        Case("expectations not a list", test("""
                expect_firing:
                  - {rule: stalled, pid: 1024, within: [0s, 2s]}
            """, "    expect_firing: {rule: stalled}"), "5:20", "'expect_firing' must be a list"),
        Case("expectation without rule", test("{rule: stalled, pid: 1024,", "{pid: 1024,"), "6:9", "missing required key 'rule' in expect_firing"),
        Case("unknown expectation key", test("{rule: stalled, pid: 1024,", "{rule: stalled, pdi: 1024,"), "6:25", "unknown key 'pdi' in expect_firing; expected one of: rule, entity, pid, at, within, labels"),
        Case("details in expect_silent", test("expect_firing:\n      - {rule: stalled, pid: 1024,", "expect_silent:\n      - {rule: stalled, message: x,"),
             "6:25", "unknown key 'message' in expect_silent; expected one of: rule, entity, pid, at, within"),
        Case("at and within", test("within: [0s, 2s]", "at: 1s, within: 2s"), "6:44", "give either 'at' (the state at one moment) or 'within' (a span), not both"),
        Case("window of three", test("[0s, 2s]", "[0s, 1s, 2s]"), "6:44", "'within' must be a duration or a span [FROM, TO] such as [1s, 3s], not a list of 3"),
        Case("window backwards", test("[0s, 2s]", "[3s, 2s]"), "6:49", "'within' ends (2s) before it starts (3s)"),
        Case("bad window bound", test("[0s, 2s]", "[0s, later]"), "6:49", "'within' must be a duration like 250ms"),
        Case("labels not a mapping", test("within: [0s, 2s]", "labels: [a]"), "6:44", "'labels' must map names to values, such as {category: network}, not be a list"),
        Case("bad field comparison", test("within: [0s, 2s]", "fields: {rtos: '>= many'}"), "6:51", "'rtos' must be a value, or a comparison such as '>= 2'"),
        Case("bad value comparison", test("within: [0s, 2s]", "value: '<'"), "6:43", "'value' must be a value, or a comparison"),
    ]

    func testEveryBadInputIsLocatedAndSaysWhatWasExpected() {
        for item in Self.cases {
            let errors = loadErrors(item.text)
            XCTAssertFalse(errors.isEmpty, "\(item.name): no error")
            let expected = "\(item.position): "
            XCTAssertTrue(errors.contains { $0.hasPrefix(expected) && $0.contains(item.fragment) },
                          "\(item.name): expected an error at \(item.position) containing \"\(item.fragment)\", got:\n"
                          + errors.joined(separator: "\n"))
        }
    }

    func testEveryErrorOfAFileIsReportedAtOnce() {
        let text = """
        tests:
          - name: a
            events: [{at: soon, type: transport.drop}]
            expect_firing: [{rule: stalled, within: [2s, 1s]}]
          - name: b
            trace: t.jsonl
            expect_silent: [{rule: stalled, pdi: 1}]
        """
        XCTAssertEqual(loadErrors(text), [
            "3:19: 'at' must be a duration like 250ms, 1.5s, 2m or 1h, not 'soon'",
            "4:50: 'within' ends (1s) before it starts (2s)",
            "7:37: unknown key 'pdi' in expect_silent; expected one of: rule, entity, pid, at, within",
        ])
    }

    func testReferencesAndExpectationsAreCheckedAgainstFilesAndRules() throws {
        let directory = try temporaryDirectory(for: self)
        let path = directory.appendingPathComponent("t.yaml").path
        let text = """
        tests:
          - name: a
            trace: missing.jsonl
            expect_firing:
              - {rule: stalld, pid: 1}
              - {rule: stalled, labels: {team: net}, fields: {rto: 2}}
              - {rule: rto-seen, labels: {team: net}, fields: {cause: rto}}
        """
        let ruleErrors = [
            "5:16: unknown rule 'stalld'; the rule files of this test file define: rto-seen, stalled",
            "6:34: rule 'stalled' has no label 'team'; its labels are: none",
            "6:55: the alerts of 'stalled' (on: waits_on_network) have no field 'rto'; they have: backoff, blocked, blocked_1s, blocked_for, blocked_fraction, cgroup_id, "
                + "cgroup_path, comm, connections, container_id, failed, group_rank, held, job, local_rank, peer, peer_waiters, pid, "
                + "pod_uid, qos_class, quiet, rank, retransmit_rate, retransmits, rtos, slurm_job, slurm_step, systemd_unit, window, "
                + "world_size",
        ]
        XCTAssertEqual(loadErrors(text, path: path), ["3:12: cannot read the trace \(directory.path)/missing.jsonl: no such file"]
                       + ruleErrors)
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("missing.jsonl").path, contents: Data())
        XCTAssertEqual(loadErrors(text, path: path), ruleErrors)
    }

    func testMissingRuleFilesAreReportedWhereTheyAreNamed() {
        let text = "rule_files: [nope.yaml]\n" + Self.test
        XCTAssertEqual(loadErrors(text, path: "dir/t.yaml"), ["1:14: cannot read rules from dir/nope.yaml: No such file or directory"])
    }

    func testPathsAreResolvedAgainstTheTestFile() {
        XCTAssertEqual(resolve("../workload-stalled.yaml", relativeTo: "rules/tests/stall.yaml"), "rules/workload-stalled.yaml")
        XCTAssertEqual(resolve("traces/a.jsonl", relativeTo: "rules/tests/stall.yaml"), "rules/tests/traces/a.jsonl")
        XCTAssertEqual(resolve("a.jsonl", relativeTo: "stall.yaml"), "a.jsonl")
        XCTAssertEqual(resolve("./a.jsonl", relativeTo: "/x/./t.yaml"), "/x/a.jsonl")
        XCTAssertEqual(resolve("../../a", relativeTo: "t.yaml"), "../../a")
        XCTAssertEqual(resolve("/abs/../a", relativeTo: "x/t.yaml"), "/a")
    }

    func testAValidFileReadsAsWritten() throws {
        let loaded = try loadTestFile("""
        tests:
          - name: stalls
            events:
              - {at: 0s, type: transport.drop, pid: 1024, cause: rto}
            until: 1.5s
            expect_silent:
              - {}
            expect_firing:
              - rule: stalled
                pid: 1024
                entity: network-pid-1024
                within: 2s
                labels: {}
                fields: {rtos: ">= 2", peer: 10.0.0.2}
                value: 2
                message: stalled
            expect_resolved:
              - {rule: stalled, at: 3s}
        """)
        let test = try XCTUnwrap(loaded.file.tests.first)
        XCTAssertEqual(test.name, "stalls")
        XCTAssertEqual(test.until, 1_500_000_000)
        XCTAssertEqual(test.expectations.map(\.kind), [.silent, .firing, .resolved], "in the order written")
        XCTAssertNil(test.expectations[0].rule)
        let firing = test.expectations[1]
        XCTAssertEqual(firing.rule, "stalled")
        XCTAssertEqual(firing.pid, 1024)
        XCTAssertEqual(firing.entity, "network-pid-1024")
        XCTAssertEqual(firing.window, .within(from: 0, to: 2_000_000_000))
        XCTAssertEqual(firing.fields.map(\.name), ["rtos", "peer"])
        XCTAssertEqual(firing.fields.map(\.condition.comparison), [.greaterOrEqual, .equal])
        XCTAssertEqual(firing.value?.number, 2)
        XCTAssertEqual(firing.message, "stalled")
        XCTAssertEqual(firing.location.description, "t.yaml:9:9")
        XCTAssertEqual(test.expectations[2].window, .at(3_000_000_000))
    }
}
