import XCTest
@testable import RuleLanguage

final class LexerTests: XCTestCase {
    private func kinds(_ text: String) throws -> [TokenKind] {
        var lexer = Lexer(source: ExpressionSource(file: "expr", text: text))
        return try lexer.tokens().map(\.kind)
    }

    func testTokens() throws {
        let table: [(String, [TokenKind])] = [
            ("42", [.number(42)]),
            ("3.25", [.number(3.25)]),
            ("007", [.number(7)]),
            ("500ms", [.duration(0.5)]),
            // The double nearest 0.7 (700 × 0.001 is 0.7000000000000001).
            ("700ms", [.duration(0.7)]),
            ("300ms", [.duration(0.3)]),
            ("30s", [.duration(30)]),
            ("2m", [.duration(120)]),
            ("1h", [.duration(3600)]),
            ("1.5s", [.duration(1.5)]),
            (#""rto""#, [.string("rto")]),
            ("'rto'", [.string("rto")]),
            (#""a\"b\\c\nd\te'f""#, [.string("a\"b\\c\nd\te'f")]),
            (#"'it\'s'"#, [.string("it's")]),
            ("retransmits", [.identifier("retransmits")]),
            ("edge.rate", [.identifier("edge.rate")]),
            ("event.cause_2", [.identifier("event.cause_2")]),
            ("_x", [.identifier("_x")]),
            ("and or not in true false", [.and, .or, .not, .in, .true, .false]),
            ("AND", [.identifier("AND")]),
            ("+ - * / ( ) ,", [.plus, .minus, .star, .slash, .leftParenthesis, .rightParenthesis, .comma]),
            ("== != < <= > >=", [.equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual]),
            ("a<=b", [.identifier("a"), .lessEqual, .identifier("b")]),
            ("-5", [.minus, .number(5)]),
            ("count(30s)", [.identifier("count"), .leftParenthesis, .duration(30), .rightParenthesis]),
            ("x\n\tand\r\ny", [.identifier("x"), .and, .identifier("y")]),
            ("", []),
            ("9007199254740992", [.number(9_007_199_254_740_992)]),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try kinds(text), expected + [.end], "lexing \(text)")
        }
    }

    func testTokenOffsetsCountCharacters() throws {
        var lexer = Lexer(source: ExpressionSource(file: "expr", text: "'é' == comm"))
        XCTAssertEqual(try lexer.tokens().map(\.offset), [0, 4, 7, 11])
    }

    func testErrors() {
        let table: [(String, Int, String)] = [
            ("a = b", 3, "'=' is not an operator; use '==' to compare"),
            ("!a", 1, "use 'not' to negate"),
            ("a && b", 3, "use 'and'"),
            ("a || b", 3, "use 'or'"),
            ("a # b", 3, "unexpected character '#' (U+0023)"),
            ("a \u{0}", 3, "unexpected character U+0000"),
            (#""abc"#, 1, "unterminated string: close it with \""),
            ("'abc\n'", 1, "unterminated string"),
            (#""a\qb""#, 3, "unknown escape in string"),
            ("30sec", 3, "unknown unit 'sec' after 30; a duration is written like 500ms, 30s, 5m or 1h"),
            ("1e9", 2, "unknown unit 'e9'"),
            ("1.", 3, "expected a digit after the decimal point"),
            ("1.x", 3, "expected a digit after the decimal point"),
            ("edge.", 6, "expected a name after '.'"),
            ("edge.1", 6, "expected a name after '.'"),
            ("99999999999999999999", 1, "the number 99999999999999999999 is too large"),
            ("9007199254740993", 1, "is too large (the limit is 9007199254740992)"),
            (String(repeating: "a+", count: 600), 1001, "the expression is too long (more than 1000 tokens)"),
        ]
        for (text, column, fragment) in table {
            var lexer = Lexer(source: ExpressionSource(file: "expr", text: text))
            XCTAssertThrowsError(try lexer.tokens(), "lexing \(text)") { error in
                guard let error = error as? RuleFileError else { return XCTFail("not a RuleFileError") }
                XCTAssertEqual(error.line, 1, text)
                XCTAssertEqual(error.column, column, text)
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message)")
            }
        }
    }
}
