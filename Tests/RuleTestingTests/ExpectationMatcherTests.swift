@testable import RuleLanguage
@testable import RuleEngine
@testable import RuleTesting
import XCTest

/// Matching expectations against alerts, time windows at their edges.
final class ExpectationMatcherTests: XCTestCase {
    static let second: Int64 = 1_000_000_000

    func alert(_ state: Alert.State, _ rule: String = "stalled", pid: UInt32 = 1024, at seconds: Double,
               labels: [String: String] = ["team": "net"], evidence: [(String, Value)] = [("rtos", .number(3))],
               value: Value = .number(3), message: String = "task 1024 is stalled") -> ObservedAlert {
        let time = Int64(seconds * 1e9)
        return ObservedAlert(time: time, alert: Alert(
            state: state, time: UInt64(time), onset: 0, rule: rule, severity: .critical,
            labels: labels.sorted { $0.key < $1.key }.map { RuleLabel(name: $0.key, value: $0.value) },
            entity: .network(pid: pid), pid: pid, value: value, message: message,
            evidence: evidence.map { (name: $0.0, value: $0.1) }))
    }

    func expectation(_ kind: Expectation.Kind, rule: String? = "stalled", pid: UInt32? = nil, entity: String? = nil,
                     _ window: TimeWindow? = nil, labels: [String: String] = [:], fields: [String: String] = [:],
                     value: String? = nil, message: String? = nil) -> Expectation {
        let mark = SourceMark(line: 1, column: 1)
        return Expectation(
            kind: kind, rule: rule, entity: entity, pid: pid, window: window,
            labels: labels.map { LabelMatch(name: $0.key, value: $0.value, mark: mark) },
            fields: fields.map { FieldMatch(name: $0.key, condition: ValueCondition($0.value)!, mark: mark) },
            value: value.map { ValueCondition($0)! }, message: message,
            location: SourceLocation(file: "t.yaml", mark: mark), ruleMark: mark)
    }

    func met(_ expectation: Expectation, _ alerts: [ObservedAlert]) -> Bool {
        ExpectationMatcher(alerts: alerts).check(expectation).isMet
    }

    func within(_ from: Double, _ to: Double) -> TimeWindow {
        .within(from: Int64(from * 1e9), to: Int64(to * 1e9))
    }

    func testWithinIncludesBothEdgesAndNothingBeyond() {
        let fired = [alert(.firing, at: 2)]
        XCTAssertTrue(met(expectation(.firing, within(2, 3)), fired), "at the window's start")
        XCTAssertTrue(met(expectation(.firing, within(1, 2)), fired), "at the window's end")
        XCTAssertTrue(met(expectation(.firing, within(2, 2)), fired), "a window of one moment")
        XCTAssertFalse(met(expectation(.firing, .within(from: 2 * Self.second + 1, to: 3 * Self.second)), fired),
                       "one nanosecond after the start")
        XCTAssertFalse(met(expectation(.firing, .within(from: 0, to: 2 * Self.second - 1)), fired),
                       "one nanosecond before the end")
    }

    func testAtAsksForTheStateAtThatMoment() {
        let alerts = [alert(.firing, at: 2), alert(.resolved, at: 5)]
        XCTAssertFalse(met(expectation(.firing, .at(2 * Self.second - 1)), alerts), "not yet firing")
        XCTAssertTrue(met(expectation(.firing, .at(2 * Self.second)), alerts), "firing from the moment it fires")
        XCTAssertTrue(met(expectation(.firing, .at(5 * Self.second - 1)), alerts), "until just before it resolves")
        XCTAssertFalse(met(expectation(.firing, .at(5 * Self.second)), alerts), "not at the moment it resolves")
        XCTAssertTrue(met(expectation(.resolved, .at(5 * Self.second)), alerts))
        XCTAssertFalse(met(expectation(.resolved, .at(5 * Self.second - 1)), alerts))
        XCTAssertFalse(met(expectation(.silent, .at(2 * Self.second)), alerts))
        XCTAssertTrue(met(expectation(.silent, .at(5 * Self.second)), alerts))
        XCTAssertTrue(met(expectation(.silent, .at(2 * Self.second - 1)), alerts))
    }

    func testAResolvedStateEndsWhenItFiresAgain() {
        let alerts = [alert(.firing, at: 1), alert(.resolved, at: 2), alert(.firing, at: 3)]
        XCTAssertTrue(met(expectation(.resolved, .at(3 * Self.second - 1)), alerts))
        XCTAssertFalse(met(expectation(.resolved, .at(3 * Self.second)), alerts))
    }

    func testSilenceWithinAWindowCountsAnAlertStillFiringAtItsStart() {
        let alerts = [alert(.firing, at: 1), alert(.resolved, at: 4)]
        XCTAssertFalse(met(expectation(.silent, within(3, 6)), alerts), "fired before the window, still firing in it")
        XCTAssertTrue(met(expectation(.silent, within(4, 6)), alerts), "resolved right at the window's start")
        XCTAssertFalse(met(expectation(.silent, within(0, 1)), alerts), "fires at the window's end")
        XCTAssertTrue(met(expectation(.silent, .within(from: 0, to: Self.second - 1)), alerts))
        XCTAssertFalse(met(expectation(.silent), alerts))
        XCTAssertTrue(met(expectation(.silent, rule: "other"), alerts))
        XCTAssertFalse(met(expectation(.silent, rule: nil), alerts), "no rule: any rule")
    }

    func testEntityAndPidSelectTheAlerts() {
        let alerts = [alert(.firing, pid: 7, at: 1)]
        XCTAssertTrue(met(expectation(.firing, pid: 7), alerts))
        XCTAssertFalse(met(expectation(.firing, pid: 8), alerts))
        XCTAssertTrue(met(expectation(.firing, entity: "network-pid-7"), alerts))
        XCTAssertFalse(met(expectation(.firing, entity: "network-pid-70"), alerts))
        XCTAssertTrue(met(expectation(.silent, pid: 8), alerts))
    }

    func testLabelsFieldsValueAndMessageMustAllMatch() {
        let alerts = [alert(.firing, at: 1, evidence: [("rtos", .number(3)), ("peer", .string("10.0.0.2")), ("held", .number(1.5))])]
        XCTAssertTrue(met(expectation(.firing, labels: ["team": "net"], fields: ["rtos": "3", "peer": "10.0.0.2"],
                                      value: ">= 3", message: "is stalled"), alerts))
        XCTAssertTrue(met(expectation(.firing, fields: ["rtos": "> 2", "held": ">= 1.5s", "peer": "!= 10.0.0.3"]), alerts))
        XCTAssertFalse(met(expectation(.firing, labels: ["team": "storage"]), alerts))
        XCTAssertFalse(met(expectation(.firing, fields: ["rtos": "< 3"]), alerts))
        XCTAssertFalse(met(expectation(.firing, fields: ["backoff": "0"]), alerts), "a field the alert lacks")
        XCTAssertFalse(met(expectation(.firing, value: "4"), alerts))
        XCTAssertFalse(met(expectation(.firing, message: "is fine"), alerts))
    }

    func testUnmetExpectationsSayWhichAlertsCameClosestAndWhy() {
        let alerts = [alert(.firing, "other", at: 1), alert(.firing, at: 2.5), alert(.resolved, at: 6)]
        let late = ExpectationMatcher(alerts: alerts).check(expectation(.firing, pid: 1024, within(0, 2), fields: ["rtos": ">= 2"]))
        XCTAssertEqual(late.reasons, ["stalled fired for network-pid-1024 at +2.5s: after the window [0s, 2s]"])
        let wrongField = ExpectationMatcher(alerts: alerts).check(expectation(.firing, fields: ["rtos": "< 2"]))
        XCTAssertEqual(wrongField.reasons, ["stalled fired for network-pid-1024 at +2.5s: field rtos is 3, expected < 2"])
        let never = ExpectationMatcher(alerts: alerts).check(expectation(.resolved, pid: 9))
        XCTAssertEqual(never.reasons, ["no alert it selects ever resolved"])
        let noisy = ExpectationMatcher(alerts: alerts).check(expectation(.silent, rule: nil, within(0, 3)))
        XCTAssertEqual(noisy.alerts, [0, 1])
        XCTAssertEqual(noisy.reasons, ["other fired for network-pid-1024 at +1s, within [0s, 3s]",
                                       "stalled fired for network-pid-1024 at +2.5s, within [0s, 3s]"])
    }
}
