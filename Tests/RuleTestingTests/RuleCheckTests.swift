@testable import RuleTesting
import XCTest

/// `ark-probe check`: rule files and test files, found in directories.
final class RuleCheckTests: XCTestCase {
    func testFindsEveryErrorInRuleAndTestFilesOfADirectoryTree() throws {
        let directory = try temporaryDirectory(for: self)
        let tests = directory.appendingPathComponent("tests")
        try FileManager.default.createDirectory(at: tests, withIntermediateDirectories: true)
        try Data(sampleRules.utf8).write(to: directory.appendingPathComponent("good.yaml"))
        try Data("""
        rules:
          - rule: stalled
            description: again
            on: waits_on_netwrok
            condition: rtos >= 2
            severity: critical
            message: m
        """.utf8).write(to: directory.appendingPathComponent("broken.yaml"))
        try Data("""
        rule_files: [../good.yaml]
        tests:
          - name: t
            trace: nowhere.jsonl
            expect_silent: [{rule: stalled}]
        """.utf8).write(to: tests.appendingPathComponent("t.yaml"))
        try Data("not yaml: [".utf8).write(to: tests.appendingPathComponent("notes.txt"))

        let report = RuleCheck(loader: sampleLoader).check([directory.path, directory.path + "/missing.yaml"])
        let root = directory.path
        XCTAssertEqual(report.ruleFiles, ["\(root)/broken.yaml", "\(root)/good.yaml"])
        XCTAssertEqual(report.testFiles, ["\(root)/tests/t.yaml"])
        XCTAssertEqual(report.errors.map(\.diagnosticLine), [
            "\(root)/broken.yaml:4:9: unknown subject 'waits_on_netwrok' for 'on' (did you mean 'waits_on_network'?)",
            "\(root)/good.yaml:9:11: duplicate rule name 'stalled' (first defined at \(root)/broken.yaml:2:11)",
            "\(root)/missing.yaml: no such file or directory",
            "\(root)/tests/t.yaml:4:12: cannot read the trace \(root)/tests/nowhere.jsonl: no such file",
        ])
        XCTAssertFalse(report.isValid)
        XCTAssertTrue(report.text.hasSuffix("2 rule files and 1 test file checked: 4 errors"), report.text)
        let json = report.jsonLines.split(separator: "\n")
        XCTAssertEqual(json.count, 5)
        XCTAssertEqual(String(json[3]), "{\"type\":\"error\",\"file\":\"\(root)/tests/t.yaml\",\"line\":4,\"column\":12,"
                       + "\"message\":\"cannot read the trace \(root)/tests/nowhere.jsonl: no such file\"}")
        XCTAssertEqual(String(json[4]), "{\"type\":\"summary\",\"rule_files\":2,\"test_files\":1,\"errors\":4,\"valid\":false}")
    }

    func testAValidTreeHasNoErrors() throws {
        let directory = try temporaryDirectory(for: self)
        try Data(sampleRules.utf8).write(to: directory.appendingPathComponent("rules.yml"))
        let report = RuleCheck(loader: sampleLoader).check([directory.path])
        XCTAssertTrue(report.isValid)
        XCTAssertEqual(report.text, "1 rule file and 0 test files checked: no errors")
    }
}
