import XCTest
@testable import RuleLanguage

final class YAMLTests: XCTestCase {
    func testBuildsTheTreeWithMarksAndStyles() throws {
        let node = try parseYAML(Array("""
        a: plain
        "b": 'single'
        c:
          - "double"
          - |
            literal
          - >
            folded
            text
        d: {x: 1, y: [2, 3]}
        """.utf8), file: "f.yaml")
        guard case .mapping(let pairs, let mark) = node else { return XCTFail("expected a mapping") }
        XCTAssertEqual(mark, SourceMark(line: 1, column: 1))
        XCTAssertEqual(pairs.count, 4)
        guard case .scalar("plain", .plain, SourceMark(line: 1, column: 4)) = pairs[0].value else { return XCTFail("a") }
        guard case .scalar("b", .doubleQuoted, _) = pairs[1].key,
              case .scalar("single", .singleQuoted, SourceMark(line: 2, column: 6)) = pairs[1].value else { return XCTFail("b") }
        guard case .sequence(let items, SourceMark(line: 4, column: 3)) = pairs[2].value, items.count == 3,
              case .scalar("double", .doubleQuoted, SourceMark(line: 4, column: 5)) = items[0],
              case .scalar("literal\n", .literal, SourceMark(line: 5, column: 5)) = items[1],
              case .scalar("folded text\n", .folded, SourceMark(line: 7, column: 5)) = items[2] else { return XCTFail("c") }
        guard case .mapping(let flow, SourceMark(line: 10, column: 4)) = pairs[3].value, flow.count == 2,
              case .sequence(let numbers, _) = flow[1].value, numbers.count == 2 else { return XCTFail("d") }
    }

    func testByteOrderMarkIsNotAColumn() throws {
        let node = try parseYAML([0xEF, 0xBB, 0xBF] + Array("a: b".utf8), file: "f")
        guard case .mapping(let pairs, _) = node, case .scalar("b", _, SourceMark(line: 1, column: 4)) = pairs[0].value else {
            return XCTFail("unexpected \(node)")
        }
    }

    func testColumnsCountCharactersNotBytes() {
        XCTAssertThrowsError(try parseYAML(Array("é: a\né: b".utf8), file: "f")) { error in
            XCTAssertEqual((error as? RuleFileError)?.description, "f:2:1: duplicate key 'é' (first at 1:1)")
        }
    }

    func testEmptyInputs() {
        for (text, expected) in [("", "f:1:1: the file holds no YAML document"),
                                 ("# only a comment\n", "f:1:1: the file holds no YAML document"),
                                 ("---\n", "f:2:1: the YAML document is empty")] {
            XCTAssertThrowsError(try parseYAML(Array(text.utf8), file: "f")) { error in
                XCTAssertEqual((error as? RuleFileError)?.description, expected)
            }
        }
    }

    func testLineBreakStylesCountAsLibyamlCountsThem() {
        for text in ["a: 1\r\nb: [\r\n", "a: 1\rb: [\r", "a: 1\nb: [\n"] {
            XCTAssertThrowsError(try parseYAML(Array(text.utf8), file: "f")) { error in
                XCTAssertEqual((error as? RuleFileError)?.line, 3, text.debugDescription)
            }
        }
    }
}

final class ExpressionPositionTests: XCTestCase {
    /// The position of the unknown field `nope` in each way of writing a condition.
    func testErrorsPointIntoTheScalar() {
        let table: [(String, String)] = [
            ("condition: pid > 1 and nope", "5:28"),
            ("condition: 'pid > 1 and nope'", "5:29"),
            ("condition: 'comm != ''x'' and nope'", "5:35"),
            ("condition: \"pid > 1 and nope\"", "5:29"),
            ("condition: \"comm == \\\"x\\\" and nope\"", "5:35"),
            ("condition: |\n      pid > 1 and\n        nope", "7:9"),
            ("condition: |  # a comment: nope\n      pid > 1\n      and nope", "7:11"),
            ("condition: >\n      pid > 1\n      and nope", "7:11"),
            ("condition: >-\n      pid > 1\n\n      and nope", "8:11"),
            ("condition: pid > 1\n      and nope", "6:11"),
            ("condition: \"pid > 1\n      and nope\"", "6:11"),
            ("condition: comm == 'é' and nope", "5:32"),
        ]
        for (condition, position) in table {
            let yaml = """
            rules:
              - rule: r
                description: d
                on: process
                \(condition)
                severity: info
                message: m
            """
            XCTAssertEqual(loadErrors(yaml).map(\.description), ["rules.yaml:\(position): unknown field 'nope'"], condition)
        }
    }

    func testMessagePlaceholdersAreLocated() {
        XCTAssertEqual(loadErrors(ruleFile(condition: "true", message: "'task {pid} on {peeer}'")).map(\.description),
                       ["rules.yaml:7:30: unknown field 'peeer'"])
    }

    func testMacroErrorsPointIntoTheMacroAndNameTheUse() {
        let errors = loadErrors(ruleFile(condition: "busy", extra: """
        macros:
          busy: retransmits > 1 and address == 'x'
        """))
        XCTAssertEqual(errors.map(\.description),
                       ["rules.yaml:9:29: unknown field 'address' (in macro 'busy', used at 5:16)"])
    }
}
