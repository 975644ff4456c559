import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import RuleEngine
@testable import RuleLanguage
@testable import RuleTesting
import XCTest

/// What `ark-probe test` prints, and the JUnit report.
final class ReportTests: XCTestCase {
    static let file = """
    tests:
      - name: stalls
        events:
          - {at: 0s, every: 250ms, until: 2s, type: transport.drop, pid: 7, cause: rto, daddr: 10.0.0.2, cookie: 1}
        until: 3s
        expect_firing:
          - {rule: stalled, pid: 7, within: [0s, 0.5s]}
          - {rule: stalled, pid: 7, at: 2s}
        expect_resolved:
          - {rule: stalled, pid: 7}
        expect_silent:
          - {rule: rto-seen, within: [1s, 2s]}
      - name: passes
        events:
          - {at: 0s, type: transport.drop, pid: 7, cause: fast}
        expect_silent:
          - {}
    """

    /// An alert as the engine would give it, at `seconds` from the test start.
    func observed(_ state: Alert.State, _ rule: String, at seconds: Int64, value: Value, message: String) -> ObservedAlert {
        ObservedAlert(time: seconds * 1_000_000_000, alert: Alert(
            state: state, time: UInt64(seconds * 1_000_000_000), onset: 0, rule: rule, severity: .critical, labels: [],
            entity: .network(pid: 7), pid: 7, value: value, message: message, evidence: []))
    }

    func testAFailureShowsExpectedAgainstEveryActualAlert() throws {
        let loaded = try loadTestFile(Self.file)
        let test = loaded.file.tests[0]
        let alerts = [
            observed(.firing, "rto-seen", at: 0, value: .string("rto"), message: "task 7 timed out"),
            observed(.firing, "stalled", at: 1, value: .number(4), message: "task 7 is stalled (4 RTOs)"),
            observed(.resolved, "rto-seen", at: 3, value: .missing, message: "rto-seen no longer holds for network-pid-7"),
        ]
        let outcomes = test.expectations.map(ExpectationMatcher(alerts: alerts).check)
        let result = TestResult(file: "t.yaml", test: test, outcome: .failed, expectations: outcomes, alerts: alerts)
        XCTAssertEqual(FailureReport.text(for: result), """
        FAIL t.yaml:2:5: stalls
          expected (- not met, = met):
          - t.yaml:7:9: stalled for pid 7 fires within [0s, 0.5s]
              stalled fired for network-pid-7 at +1s: after the window [0s, 0.5s]
          = t.yaml:8:9: stalled for pid 7 is firing at 2s
          - t.yaml:10:9: stalled for pid 7 resolves
              no alert it selects ever resolved
          - t.yaml:12:9: rto-seen stays silent within [1s, 2s]
              rto-seen fired for network-pid-7 at +0s, still firing at +1s
          actual alerts (= as expected, ! breaks an expectation):
          !   +0s firing rto-seen network-pid-7 value=rto "task 7 timed out"
          =   +1s firing stalled network-pid-7 value=4 "task 7 is stalled (4 RTOs)"
              +3s resolved rto-seen network-pid-7 value=(none) "rto-seen no longer holds for network-pid-7"
        """)
        let passing = TestRunner.run(loaded.file.tests[1], in: loaded)
        XCTAssertEqual(FailureReport.text(for: passing), "PASS t.yaml:13:5: passes")
        XCTAssertEqual(FailureReport.summary(passed: 1, failed: 1), "1 passed, 1 failed")
    }

    func testATestWithoutAlertsSaysSo() throws {
        let loaded = try loadTestFile("""
        tests:
          - name: quiet
            events: [{at: 0s, type: transport.drop, cause: fast}]
            expect_firing: [{rule: stalled}]
        """)
        XCTAssertEqual(FailureReport.text(for: TestRunner.run(loaded)[0]), """
        FAIL t.yaml:2:5: quiet
          expected (- not met, = met):
          - t.yaml:4:21: stalled fires
              no alert it selects ever fired
          actual alerts (= as expected, ! breaks an expectation):
              none
        """)
    }

    func testAnUnreadableTraceIsAnErrorOfItsTest() throws {
        let directory = try temporaryDirectory(for: self)
        let trace = directory.appendingPathComponent("bad.jsonl")
        try Data("{\"ts\":1,\"event_type\":\"transport.drop\"}\n".utf8).write(to: trace)
        let path = directory.appendingPathComponent("t.yaml").path
        let loaded = try loadTestFile("tests:\n  - name: bad\n    trace: bad.jsonl\n    expect_silent: [{}]\n", path: path)
        let result = TestRunner.run(loaded.file.tests[0], in: loaded)
        XCTAssertEqual(result.outcome, .error("\(trace.path):1: missing key \"entity_id\" (a string)"))
        XCTAssertTrue(FailureReport.text(for: result).hasPrefix("ERROR \(path):2:5: bad\n  cannot replay the input: \(trace.path):1"))
    }

    func testJUnitEscapesTextAndCountsFailures() throws {
        XCTAssertEqual(JUnitReport.escaped("a<b>&\"c\"'d'\u{1}\te\nf\r"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\u{FFFD}&#9;e&#10;f&#13;")
        XCTAssertEqual(JUnitReport.escaped("tab\tline\n\u{FFFE}é", inAttribute: false), "tab\tline\n\u{FFFD}é")

        let loaded = try loadTestFile(Self.file.replacingOccurrences(of: "name: passes", with: "name: \"<passes> & 'quotes'\""))
        let xml = JUnitReport.xml(results: TestRunner.run(loaded), invalidFiles: [
            ("broken.yaml", [RuleFileError(file: "broken.yaml", line: 3, column: 7, message: "unknown key '<x>'")]),
        ])
        XCTAssertTrue(xml.hasPrefix("""
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="ark-probe test" tests="3" failures="1" errors="1">
          <testsuite name="t.yaml" tests="2" failures="1" errors="0">
            <testcase name="stalls" classname="t.yaml">
              <failure message="3 of 4 expectations not met">FAIL t.yaml:2:5: stalls
        """), xml)
        XCTAssertTrue(xml.contains("""
            <testcase name="&lt;passes&gt; &amp; &apos;quotes&apos;" classname="t.yaml"/>
          </testsuite>
          <testsuite name="broken.yaml" tests="1" failures="0" errors="1">
            <testcase name="load" classname="broken.yaml">
              <error message="1 error(s) in the test file">broken.yaml:3:7: unknown key &apos;&lt;x&gt;&apos;</error>
            </testcase>
          </testsuite>
        </testsuites>
        """), xml)
        // Well-formed: Foundation's parser reads it back.
        let parser = XMLParser(data: Data(xml.utf8))
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    }

    func testRunSelectsTestsByAnExtendedRegularExpression() throws {
        let loaded = try loadTestFile(Self.file)
        XCTAssertEqual(TestRunner.run(loaded, selecting: try TestNamePattern("^pass")).map(\.test.name), ["passes"])
        XCTAssertEqual(TestRunner.run(loaded, selecting: try TestNamePattern("stall|pass")).map(\.test.name), ["stalls", "passes"])
        XCTAssertEqual(TestRunner.run(loaded, selecting: try TestNamePattern("a(ll|ss)")).map(\.test.name), ["stalls", "passes"])
        XCTAssertEqual(TestRunner.run(loaded, selecting: try TestNamePattern("^stalls$")).map(\.test.name), ["stalls"])
        XCTAssertEqual(TestRunner.run(loaded, selecting: try TestNamePattern("nothing")).count, 0)
        XCTAssertThrowsError(try TestNamePattern("stall(")) { error in
            XCTAssertTrue("\(error)".hasPrefix("invalid regular expression 'stall(': "), "\(error)")
        }
        XCTAssertThrowsError(try TestNamePattern("[a-"))
    }
}
