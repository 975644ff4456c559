import XCTest
@testable import RuleLanguage

final class TypeCheckerTests: XCTestCase {
    let lists = [
        "ports": RuleList(mark: SourceMark(line: 1, column: 1), values: [.number(80), .number(443)], type: .number),
        "empty": RuleList(mark: SourceMark(line: 1, column: 1), values: [], type: nil),
    ]

    func testTypes() throws {
        let table: [(String, FieldType)] = [
            ("retransmits + 1", .number),
            ("backoff + 2s", .duration),
            ("backoff * 2", .duration),
            ("2 * backoff", .duration),
            ("backoff / 2", .duration),
            ("backoff / 1s", .number),
            ("-backoff", .duration),
            ("comm", .string),
            ("stalled and retransmits > 3", .boolean),
            ("count(30s)", .number),
            ("count(cause == 'rto' and segments > 1, 10s)", .number),
            ("sum(segments, 1s)", .number),
            ("max(srtt, 1h)", .duration),
            ("avg(srtt, 1m)", .duration),
            ("rate(srtt, 1m)", .number),
            ("dport in ports", .boolean),
            ("comm in empty", .boolean),
            ("backoff in (1s, -2m)", .boolean),
            ("edge.peer not in ('a', \"b\")", .boolean),
        ]
        for (text, type) in table {
            XCTAssertEqual(try compile(text).expression.type, type, text)
        }
    }

    private func compile(_ text: String) throws -> CompiledTestExpression {
        var renamed = text
        if text.hasPrefix("dport") { renamed = "pid" + text.dropFirst(5) }
        return try compileExpression(renamed, lists: lists)
    }

    func testErrors() {
        let table: [(String, Int, String)] = [
            ("retransmit_rte > 1", 1, "unknown field 'retransmit_rte' (did you mean 'retransmit_rate'?)"),
            ("zzz", 1, "unknown field 'zzz'"),
            ("segments > 1", 1, "'segments' is an event field; read it through an aggregate such as sum(segments, 30s)"),
            ("count(pid > 1, 30s)", 7, "'pid' is a field of the subject, not of events; only event fields can be used inside 'count'"),
            ("sum(segmnts, 30s)", 5, "unknown event field 'segmnts' (did you mean 'segments'?)"),
            ("ports", 1, "'ports' is a list; use it after 'in', as in 'value in ports'"),
            ("retransmits + comm", 13, "cannot apply '+' to a number and a string"),
            ("backoff + 1", 9, "cannot apply '+' to a duration and a number; write durations with a unit, like 30s"),
            ("backoff > 5", 9, "cannot compare a duration with a number; write durations with a unit"),
            ("comm < 'x'", 6, "'<' orders numbers and durations only; strings take '==' and '!='"),
            ("stalled > true", 9, "'>' orders numbers and durations only; booleans take"),
            ("retransmits and stalled", 13, "'and' needs true or false on both sides; the left side is a number"),
            ("stalled or comm", 9, "the right side is a string"),
            ("not comm", 1, "'not' needs true or false, not a string"),
            ("-comm", 1, "'-' needs a number or a duration, not a string"),
            ("2s * 3s", 4, "cannot apply '*' to a duration and a duration"),
            ("cnt(30s)", 1, "unknown function 'cnt' (did you mean 'count'?)"),
            ("sum(segments)", 1, "'sum' takes sum(FIELD, WINDOW), not 1 argument"),
            ("count()", 1, "'count' takes count(WINDOW) or count(PREDICATE, WINDOW), not 0 arguments"),
            ("count(1, 2, 3s)", 1, "not 3 arguments"),
            ("count(30)", 7, "the window of 'count' must be a duration literal like 30s"),
            ("count(backoff)", 7, "must be a duration literal"),
            ("count(10s + 20s)", 11, "must be a duration literal"),
            ("count(500ms)", 7, "the window 0.5s of 'count' is out of range (1s to 1h)"),
            ("sum(segments, 2h)", 15, "the window 2h of 'sum' is out of range"),
            ("count(count(1s) > 1, 30s)", 7, "aggregates cannot be nested: 'count' inside 'count'"),
            ("max(rate(segments, 1s), 30s)", 5, "aggregates cannot be nested: 'rate' inside 'max'"),
            ("count(segments, 30s)", 7, "the predicate of 'count' must be true or false, not a number"),
            ("sum(cause, 30s)", 5, "'sum' needs a number or duration field; 'cause' is a string"),
            ("sum(segments + 1, 30s)", 14, "the first argument of 'sum' must be the name of an event field"),
            ("pid in nope", 8, "unknown list 'nope'"),
            ("pid in prts", 8, "unknown list 'prts' (did you mean 'ports'?)"),
            ("comm in ports", 9, "list 'ports' holds numbers, but the value before 'in' is a string"),
            ("pid in (1, 'two')", 12, "this value is a string, but the value before 'in' is a number"),
            ("pid in (1, retransmits)", 12, "the values after 'in' must be literals"),
        ]
        for (text, column, fragment) in table {
            XCTAssertThrowsError(try compileExpression(text, lists: lists), text) { error in
                guard let error = error as? RuleFileError else { return XCTFail("not a RuleFileError") }
                XCTAssertEqual(error.column, column, text)
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message)")
            }
        }
    }

    func testConditionMustBeBoolean() {
        let errors = loadErrors(ruleFile(condition: "retransmits + 1"))
        XCTAssertEqual(errors.map(\.description),
                       ["rules.yaml:5:28: a condition must be true or false, but this is a number"])
    }

    func testOnlyTheFunctionsTheEngineProvides() {
        XCTAssertThrowsError(try loadRules(files: [(path: "r.yaml", bytes: Array(ruleFile(condition: "avg(srtt, 1m) > 1s").utf8))],
                                           subjectSchemas: TestSchemas.subjects, eventSchema: TestSchemas.event,
                                           functions: [.count, .sum])) { error in
            XCTAssertEqual((error as? RuleFileErrors)?.description, "r.yaml:5:16: unknown function 'avg'")
        }
    }
}
