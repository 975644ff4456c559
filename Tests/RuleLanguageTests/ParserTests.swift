import XCTest
@testable import RuleLanguage

final class ParserTests: XCTestCase {
    private func parse(_ text: String) throws -> String {
        try Parser.parse(ExpressionSource(file: "expr", text: text)).description
    }

    func testPrecedenceAndAssociativity() throws {
        let table: [(String, String)] = [
            ("a + b * c", "(a + (b * c))"),
            ("a * b + c", "((a * b) + c)"),
            ("a - b - c", "((a - b) - c)"),
            ("a / b / c", "((a / b) / c)"),
            ("(a + b) * c", "((a + b) * c)"),
            ("-a * b", "((-a) * b)"),
            ("- -a", "(-(-a))"),
            ("a - -b", "(a - (-b))"),
            ("a + b > c * d", "((a + b) > (c * d))"),
            ("a > b and c < d", "((a > b) and (c < d))"),
            ("a or b and c", "(a or (b and c))"),
            ("a and b or c", "((a and b) or c)"),
            ("a or b or c", "((a or b) or c)"),
            ("not a and b", "((not a) and b)"),
            ("not a == b", "(not (a == b))"),
            ("not not a", "(not (not a))"),
            ("not a or b", "((not a) or b)"),
            ("a == b or c != d", "((a == b) or (c != d))"),
            ("x in (1, 2, 3)", "(x in (1, 2, 3))"),
            ("x not in (1)", "(x not in (1))"),
            ("x in ports and y", "((x in ports) and y)"),
            ("not x in ports", "(not (x in ports))"),
            ("a + 1 in (2, 3)", "((a + 1) in (2, 3))"),
            ("count(30s)", "count(30s)"),
            ("count(cause == 'rto', 30s) >= 3", "(count((cause == \"rto\"), 30s) >= 3)"),
            ("rate(segments, 2m) > 0.5", "(rate(segments, 2m) > 0.5)"),
            ("f()", "f()"),
            ("edge.rate >= 1.5", "(edge.rate >= 1.5)"),
            ("500ms + 1h", "(0.5s + 1h)"),
            ("((((a))))", "a"),
            ("\"a\\\"b\" == comm", "(\"a\\\"b\" == comm)"),
            ("true and false", "(true and false)"),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try parse(text), expected, "parsing \(text)")
        }
    }

    func testCanonicalTextParsesToItself() throws {
        for text in ["(a + (b * c))", "(count((cause == \"rto\"), 30s) >= 3)", "(x not in (1, -2, \"s\"))", "(not (a and b))"] {
            XCTAssertEqual(try parse(try parse(text)), try parse(text))
        }
    }

    func testSyntaxErrors() {
        let table: [(String, Int, String)] = [
            ("", 1, "expected a value, found the end of the expression"),
            ("a +", 4, "expected a value, found the end of the expression"),
            ("a b", 3, "expected an operator or the end of the expression, found name 'b'"),
            ("(a", 3, "expected ')' to close the '(' at 1:1, found the end of the expression"),
            ("a)", 2, "expected an operator or the end of the expression, found ')'"),
            ("a < b < c", 7, "comparisons cannot be chained; join them with 'and'"),
            ("a == b != c", 8, "comparisons cannot be chained"),
            ("x in 3", 6, "expected a list name or values in parentheses after 'in', found number 3"),
            ("x in ()", 7, "expected a value, found ')'"),
            ("x in (1, 2", 11, "expected ',' or ')' to close the values after 'in' opened at 1:6"),
            ("count(30s", 10, "expected ',' or ')' to close the arguments of 'count' opened at 1:6"),
            ("count(,)", 7, "expected a value, found ','"),
            ("a and and", 7, "expected a value, found 'and'"),
            ("* a", 1, "expected a value, found '*'"),
            ("x not 3", 3, "expected an operator or the end of the expression, found 'not'"),
            (String(repeating: "(", count: 70) + "a" + String(repeating: ")", count: 70), 65,
             "the expression nests deeper than 64 levels"),
            (String(repeating: "not ", count: 70) + "a", 257, "nests deeper than 64 levels"),
        ]
        for (text, column, fragment) in table {
            XCTAssertThrowsError(try parse(text), "parsing \(text)") { error in
                guard let error = error as? RuleFileError else { return XCTFail("not a RuleFileError") }
                XCTAssertEqual(error.file, "expr")
                XCTAssertEqual(error.column, column, text)
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message)")
            }
        }
    }
}
