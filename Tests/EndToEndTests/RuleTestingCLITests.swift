// The real `ark-probe test` and `ark-probe check`: the shipped rule tests
// (rules/tests/, run in CI through this test), and what a user sees when a
// test fails or a file is broken. No root needed.

import Foundation
import XCTest

final class RuleTestingCLITests: XCTestCase {
    /// The package root: this file is Tests/EndToEndTests/RuleTestingCLITests.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func arkProbe(_ arguments: [String]) throws -> CommandResult {
        try NamespaceLab.run([try NamespaceLab.productURL(named: "ark-probe").path] + arguments, check: false)
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ark-probe-rule-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map(String.init) ?? ""
    }

    func testTheShippedRuleTestsPass() throws {
        let tests = Self.root.appendingPathComponent("rules/tests").path
        let result = try arkProbe(["test", tests])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let summary = lastLine(result.stdout)
        XCTAssertNotNil(summary.range(of: #"^[0-9]+ passed, 0 failed$"#, options: .regularExpression), summary)
        XCTAssertGreaterThanOrEqual(Int(summary.prefix { $0.isNumber }) ?? 0, 15, "three tests or more for each of the five rules")
        for rule in ["workload-stalled", "workload-degraded", "peer-fan-in", "connection-stalled", "kernel-drop-spike"] {
            XCTAssertTrue(result.stdout.contains("PASS \(tests)/\(rule).yaml:"), "\(rule) has tests: \(result.stdout)")
        }
    }

    func testTheShippedRulesAndTestsCheckClean() throws {
        let result = try arkProbe(["check", Self.root.appendingPathComponent("rules").path])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(lastLine(result.stdout), "6 rule files and 6 test files checked: no errors")
    }

    func testCheckLocatesEveryErrorOfABrokenRuleFile() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("broken.yaml")
        try Data("""
        rules:
          - rule: Stalled
            description: a process waits
            on: waits_on_netwrok
            condition: rtos >=
            for: soon
            severity: loud
            message: task {pid}
            colour: red
        """.utf8).write(to: file)
        let text = try arkProbe(["check", directory.path])
        XCTAssertEqual(text.status, 1)
        let path = file.path
        XCTAssertEqual(text.stdout, """
        \(path):2:11: invalid rule name 'Stalled': use only a-z, 0-9 and '-'
        \(path):4:9: unknown subject 'waits_on_netwrok' for 'on' (did you mean 'waits_on_network'?)
        \(path):6:10: 'for' must be a duration like 30s, 5m or 1h, not 'soon'
        \(path):7:15: 'severity' must be critical, warning or info, not 'loud'
        \(path):9:5: unknown key 'colour' in a rule; expected one of: rule, description, on, condition, value, for, keep_firing_for, severity, labels, message, enabled
        1 rule file and 0 test files checked: 5 errors

        """)

        let json = try arkProbe(["check", "--json", path])
        XCTAssertEqual(json.status, 1)
        let objects = try json.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.count, 6)
        XCTAssertEqual(objects[0]["type"] as? String, "error")
        XCTAssertEqual(objects[0]["file"] as? String, path)
        XCTAssertEqual(objects[0]["line"] as? Int, 2)
        XCTAssertEqual(objects[0]["column"] as? Int, 11)
        XCTAssertEqual(objects[0]["message"] as? String, "invalid rule name 'Stalled': use only a-z, 0-9 and '-'")
        XCTAssertEqual(objects[5]["type"] as? String, "summary")
        XCTAssertEqual(objects[5]["errors"] as? Int, 5)
        XCTAssertEqual(objects[5]["valid"] as? Bool, false)
    }

    func testAFailingTestShowsTheDiffWritesJUnitAndExitsOne() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("stall.yaml")
        // No rule_files: the shipped rules.
        try Data("""
        tests:
          - name: pages at once
            events:
              - {at: 0s, every: 250ms, until: 3s, type: transport.drop, pid: 1024, comm: trainer, cause: rto,
                 saddr: 10.0.0.1, daddr: 10.0.0.2, sport: 40000, dport: 29500, cookie: 7}
            expect_firing:
              - {rule: workload-stalled, pid: 1024, within: [0s, 0.5s]}
          - name: pages within a second
            events:
              - {at: 0s, every: 250ms, until: 3s, type: transport.drop, pid: 1024, comm: trainer, cause: rto,
                 saddr: 10.0.0.1, daddr: 10.0.0.2, sport: 40000, dport: 29500, cookie: 7}
            expect_firing:
              - {rule: workload-stalled, pid: 1024, within: 1s}
        """.utf8).write(to: file)
        let junit = directory.appendingPathComponent("report.xml")
        let result = try arkProbe(["test", file.path, "--junit", junit.path])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("""
        FAIL \(file.path):2:5: pages at once
          expected (- not met, = met):
          - \(file.path):7:9: workload-stalled for pid 1024 fires within [0s, 0.5s]
              workload-stalled fired for network-pid-1024 at +0.6s: after the window [0s, 0.5s]
          actual alerts (= as expected, ! breaks an expectation):
              +0.6s firing connection-stalled connection-7 value=0.6 "connection 10.0.0.1:40000 -> 10.0.0.2:29500 of task 1024 (trainer) is stalled: blocked 0.6s of the last second, 3 RTO timeouts in the last 5s, backoff 0"
              +0.6s firing workload-stalled network-pid-1024 value=0.6 "task 1024 (trainer) is stalled by the network:
        """), result.stdout)
        XCTAssertTrue(result.stdout.contains("PASS \(file.path):8:5: pages within a second\n"), result.stdout)
        XCTAssertEqual(lastLine(result.stdout), "1 passed, 1 failed")
        let xml = try String(contentsOf: junit, encoding: .utf8)
        XCTAssertTrue(xml.contains("<testsuites name=\"ark-probe test\" tests=\"2\" failures=\"1\" errors=\"0\">"), xml)
        XCTAssertTrue(xml.contains("<testcase name=\"pages within a second\" classname=\"\(file.path)\"/>"), xml)

        let selected = try arkProbe(["test", file.path, "--run", "within"])
        XCTAssertEqual(selected.status, 0, selected.stdout)
        XCTAssertEqual(lastLine(selected.stdout), "1 passed, 0 failed")
        let none = try arkProbe(["test", file.path, "--run", "^nothing$"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no test name matches --run '^nothing$'"), none.stderr)
        let invalid = try arkProbe(["test", file.path, "--run", "pages("])
        XCTAssertEqual(invalid.status, 64)
        XCTAssertTrue(invalid.stderr.hasPrefix("ark-probe test: --run: invalid regular expression 'pages(': "), invalid.stderr)
    }

    func testAnInvalidTestFileExitsTwoWithEveryErrorLocated() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("bad.yaml")
        try Data("""
        tests:
          - name: bad
            trace: missing.jsonl
            expect_firing:
              - {rule: workload-stalld, within: [2s, 1s]}
        """.utf8).write(to: file)
        let result = try arkProbe(["test", file.path])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr, """
        \(file.path):5:46: 'within' ends (1s) before it starts (2s)
        ark-probe test: 1 test file is invalid or unreadable; their tests did not run

        """)
        XCTAssertEqual(lastLine(result.stdout), "0 passed, 0 failed")

        try Data("""
        tests:
          - name: bad
            trace: missing.jsonl
            expect_firing:
              - {rule: workload-stalld}
        """.utf8).write(to: file)
        let check = try arkProbe(["check", file.path])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stdout.hasPrefix("""
            \(file.path):3:12: cannot read the trace \(directory.path)/missing.jsonl: no such file
            \(file.path):5:16: unknown rule 'workload-stalld'; the rule files of this test file define: connection-stalled, \
            job-stalled, kernel-drop-spike, peer-fan-in, workload-degraded, workload-stalled

            """), check.stdout)
    }
}
