import XCTest
@testable import RuleLanguage

final class EvaluatorTests: XCTestCase {
    let fields: [String: Value] = [
        "pid": .number(1024), "comm": .string("python"), "retransmits": .number(12),
        "retransmit_rate": .number(2.5), "stalled": .boolean(true), "backoff": .number(1.5),
        "edge.rate": .number(0), "edge.peer": .string("10.0.0.2"),
    ]
    let lists = ["ports": RuleList(mark: SourceMark(line: 1, column: 1), values: [.number(80), .number(1024)], type: .number)]

    func testResults() throws {
        let table: [(String, Value)] = [
            ("1 + 2 * 3", .number(7)),
            ("(1 + 2) * 3", .number(9)),
            ("10 - 4 - 3", .number(3)),
            ("12 / 4 / 3", .number(1)),
            ("-retransmits + 2", .number(-10)),
            ("retransmits / 8", .number(1.5)),
            ("retransmits / 0", .missing),
            ("retransmits / edge.rate", .missing),
            ("0 / 0", .missing),
            ("9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992 * 9007199254740992", .missing),
            ("backoff * 2", .number(3)),
            ("backoff + 500ms", .number(2)),
            ("2m / 30s", .number(4)),
            ("1h", .number(3600)),
            ("retransmits > 10", .boolean(true)),
            ("retransmits >= 12 and retransmits <= 12", .boolean(true)),
            ("retransmits < 12", .boolean(false)),
            ("retransmits == 12.0", .boolean(true)),
            ("retransmits != 12", .boolean(false)),
            ("backoff > 1s", .boolean(true)),
            ("comm == 'python'", .boolean(true)),
            ("comm != \"python\"", .boolean(false)),
            ("stalled == true", .boolean(true)),
            ("not stalled", .boolean(false)),
            ("stalled and retransmits > 100", .boolean(false)),
            ("stalled or retransmits > 100", .boolean(true)),
            ("pid in ports", .boolean(true)),
            ("pid not in ports", .boolean(false)),
            ("retransmits in (1, 12, 3)", .boolean(true)),
            ("retransmits in (1, -12)", .boolean(false)),
            ("comm in ('java', 'python')", .boolean(true)),
            ("comm not in ('java')", .boolean(true)),
            ("edge.peer", .string("10.0.0.2")),
            // Comparisons with a missing value are false, both ways.
            ("rto_count > 1", .boolean(false)),
            ("rto_count <= 1", .boolean(false)),
            ("rto_count == rto_count", .boolean(false)),
            ("rto_count != 1", .boolean(false)),
            ("rto_count in (1, 2)", .boolean(false)),
            ("rto_count not in (1, 2)", .boolean(false)),
            ("rto_count + 1", .missing),
            ("-rto_count", .missing),
            ("waiting_processes", .missing),
            // and, or, not read missing as false.
            ("not (rto_count > 1)", .boolean(true)),
            ("(rto_count / 0 > 1) or stalled", .boolean(true)),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try compileExpression(text, lists: lists).evaluate(fields), expected, text)
        }
    }

    func testAggregatesAreReadByIndexAndNaNIsMissing() throws {
        let compiled = try compileExpression("count(30s) + sum(segments, 1m) + count(30s)")
        XCTAssertEqual(compiled.aggregates.map(\.description), ["count(30s)", "sum(segments, 1m)"])
        XCTAssertEqual(compiled.evaluate(aggregates: [3, 10]), .number(16))
        XCTAssertEqual(compiled.evaluate(aggregates: [3, .nan]), .missing)
        XCTAssertEqual(compiled.evaluate(aggregates: [.infinity, 1]), .missing)
    }

    func testValuesOfTheWrongKindAreMissing() throws {
        let compiled = try compileExpression("retransmits > 1 or comm == 'x'")
        XCTAssertEqual(compiled.evaluate(["retransmits": .string("12"), "comm": .number(1)]), .boolean(false))
        XCTAssertEqual(try compileExpression("retransmits").evaluate(["retransmits": .number(.nan)]), .missing)
    }

    func testFieldIDsFollowFirstUse() throws {
        let compiled = try compileExpression("comm == 'x' and pid > 1 and comm != 'y'")
        XCTAssertEqual(compiled.fieldNames, ["comm", "pid"])
    }

    func testCompiledConditionHolds() throws {
        let compiled = try compileExpression("rto_count > 1")
        let context = TestContext(fieldNames: compiled.fieldNames)
        XCTAssertFalse(compiled.expression.holds(in: context))
        XCTAssertFalse(try compileExpression("retransmits").expression.holds(in: TestContext(fieldNames: ["retransmits"])))
    }
}
