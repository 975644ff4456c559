import XCTest
@testable import TraceFormat

final class JSONParserTests: XCTestCase {
    func parse(_ text: String) throws(JSONError) -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    func number(_ text: String) -> JSONValue {
        .number(JSONNumber(text)!)
    }

    func testValidDocuments() throws {
        let table: [(String, JSONValue)] = [
            ("null", .null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("0", number("0")),
            ("-0", number("-0")),
            ("1.5e-3", number("1.5e-3")),
            ("123456789012345678901234567890", number("123456789012345678901234567890")),
            ("\"\"", .string("")),
            (#""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{8}\u{c}\n\r\t")),
            (#""\u00e9\u00C9""#, .string("éÉ")),
            (#""\uD83D\uDE00""#, .string("😀")),
            ("\"é😀\u{7F}\"", .string("é😀\u{7F}")),
            ("[]", .array([])),
            ("{}", .object([])),
            (" \t\r\n[1, [2, {\"a\": null}]]\n ", .array([number("1"), .array([number("2"), .object([JSONMember(key: "a", value: .null)])])])),
            (#"{"b":1,"a":2,"c":{"z":[]}}"#, .object([
                JSONMember(key: "b", value: number("1")), JSONMember(key: "a", value: number("2")),
                JSONMember(key: "c", value: .object([JSONMember(key: "z", value: .array([]))])),
            ])),
            (#"{"a":1,"A":2}"#, .object([JSONMember(key: "a", value: number("1")), JSONMember(key: "A", value: number("2"))])),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try parse(text), expected, text)
        }
    }

    func testNestingUpTo32LevelsIsAccepted() throws {
        let text = String(repeating: "[", count: 16) + String(repeating: "{\"a\":", count: 16) + "1"
            + String(repeating: "}", count: 16) + String(repeating: "]", count: 16)
        XCTAssertNoThrow(try parse(text))
    }

    /// (input, column, fragment of the message)
    let invalid: [([UInt8], Int, String)] = [
        (Array("".utf8), 1, "expected a value, got the end of the input"),
        (Array("   ".utf8), 4, "expected a value, got the end of the input"),
        (Array("{".utf8), 2, "expected a string key or '}', got the end of the input"),
        (Array(#"{"a""#.utf8), 5, "expected ':' after an object key"),
        (Array(#"{"a" 1}"#.utf8), 6, "expected ':' after an object key, got '1'"),
        (Array(#"{"a":"#.utf8), 6, "expected a value after ':', got the end of the input"),
        (Array(#"{"a":1"#.utf8), 7, "expected ',' or '}' after an object member, got the end of the input"),
        (Array(#"{"a":1 "b":2}"#.utf8), 8, "expected ',' or '}' after an object member, got '\"'"),
        (Array(#"{"a":1,}"#.utf8), 8, "expected a string key after ',', got '}'"),
        (Array(#"{"a":1,"b"}"#.utf8), 11, "expected ':' after an object key, got '}'"),
        (Array("{a:1}".utf8), 2, "expected a string key or '}', got 'a'"),
        (Array(#"{"a":1,"a":2}"#.utf8), 8, "duplicate key \"a\""),
        (Array("[".utf8), 2, "expected a value or ']', got the end of the input"),
        (Array("[1,]".utf8), 4, "expected a value after ',', got ']'"),
        (Array("[1,,2]".utf8), 4, "expected a value after ',', got ','"),
        (Array("[1 2]".utf8), 4, "expected ',' or ']' after an array element, got '2'"),
        (Array("[1,2".utf8), 5, "expected ',' or ']' after an array element, got the end of the input"),
        (Array("]".utf8), 1, "expected a value, got ']'"),
        (Array("[1]]".utf8), 4, "expected end of input after the value, got ']'"),
        (Array("1 2".utf8), 3, "expected end of input after the value, got '2'"),
        (Array(#"{"a":1}x"#.utf8), 8, "expected end of input after the value, got 'x'"),
        (Array("01".utf8), 2, "leading zeros are not allowed"),
        (Array("-01".utf8), 3, "leading zeros are not allowed"),
        (Array("0x10".utf8), 2, "expected end of input after the value, got 'x'"),
        (Array("+1".utf8), 1, "a number must not start with '+'"),
        (Array("NaN".utf8), 1, "NaN and Infinity are not JSON"),
        (Array("Infinity".utf8), 1, "NaN and Infinity are not JSON"),
        (Array("-Infinity".utf8), 2, "Infinity is not JSON"),
        (Array("-".utf8), 2, "expected a digit after '-', got the end of the input"),
        (Array("-a".utf8), 2, "expected a digit after '-', got 'a'"),
        (Array("1.".utf8), 3, "expected a digit after '.'"),
        (Array("1.e5".utf8), 3, "expected a digit after '.', got 'e'"),
        (Array(".5".utf8), 1, "expected a value, got '.'"),
        (Array("1e".utf8), 3, "expected a digit in the exponent"),
        (Array("1e+".utf8), 4, "expected a digit in the exponent"),
        (Array("1.5E-x".utf8), 6, "expected a digit in the exponent, got 'x'"),
        (Array("tru".utf8), 1, "expected 'true', got 'tru'"),
        (Array("nul".utf8), 1, "expected 'null', got 'nul'"),
        (Array("nulll".utf8), 5, "expected end of input after the value, got 'l'"),
        (Array("True".utf8), 1, "expected a value, got 'T'"),
        (Array("'a'".utf8), 1, "expected a value, got '''"),
        (Array("// comment\n1".utf8), 1, "expected a value, got '/'"),
        (Array("\u{FEFF}{}".utf8), 1, "expected a value, got byte 0xEF"),
        (Array(#""abc"#.utf8), 5, "expected '\"' to end the string that starts at column 1, got the end of the input"),
        (Array(#"{"k":"abc}"#.utf8), 11, "to end the string that starts at column 6"),
        (Array(#""a\x""#.utf8), 4, "expected one of \" \\ / b f n r t u after '\\', got 'x'"),
        (Array(#""\"#.utf8), 3, "expected an escape character after '\\', got the end of the input"),
        (Array(#""\u12""#.utf8), 6, "expected 4 hex digits after '\\u', got '\"'"),
        (Array(#""\u00zz""#.utf8), 6, "expected 4 hex digits after '\\u', got 'z'"),
        (Array(#""\uD800""#.utf8), 8, "expected a low surrogate escape \\uDC00-\\uDFFF after the high surrogate \\uD800"),
        (Array(#""\uD800x""#.utf8), 8, "expected a low surrogate escape"),
        (Array(#""\uD800\u0041""#.utf8), 8, "after the high surrogate \\uD800, got \\u0041"),
        (Array(#""\uD800\uD800""#.utf8), 8, "got \\uD800"),
        (Array(#""\uDC00""#.utf8), 2, "unpaired low surrogate \\uDC00"),
        (Array("\"a\tb\"".utf8), 3, "control character U+0009"),
        ([0x22, 0x01, 0x22], 2, "control character U+0001"),
        ([0x22, 0x0A, 0x22], 2, "control character U+000A"),
        ([0x22, 0xC0, 0x80, 0x22], 2, "invalid UTF-8: overlong encoding"),
        ([0x22, 0xC1, 0xBF, 0x22], 2, "invalid UTF-8: overlong encoding"),
        ([0x22, 0xE0, 0x80, 0x80, 0x22], 2, "invalid UTF-8: overlong encoding"),
        ([0x22, 0xF0, 0x80, 0x80, 0x80, 0x22], 2, "invalid UTF-8: overlong encoding"),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 2, "invalid UTF-8: encoded surrogate"),
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 2, "invalid UTF-8: code point above U+10FFFF"),
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 2, "invalid UTF-8: code point above U+10FFFF"),
        ([0x22, 0x80, 0x22], 2, "invalid UTF-8: unexpected continuation byte 0x80"),
        ([0x22, 0xC3, 0x22], 3, "invalid UTF-8: truncated sequence after lead byte 0xC3"),
        ([0x22, 0xE2, 0x82], 4, "invalid UTF-8: truncated sequence after lead byte 0xE2"),
        ([0x22, 0xFF, 0x22], 2, "invalid UTF-8: byte 0xFF never occurs in UTF-8"),
        ([0x7B, 0x22, 0x61, 0x22, 0x3A, 0xFF, 0x7D], 6, "expected a value after ':', got byte 0xFF"),
        (Array((String(repeating: "[", count: 33) + String(repeating: "]", count: 33)).utf8), 33, "too deeply nested: more than 32 levels"),
        (Array((String(repeating: "{\"a\":", count: 33) + "1" + String(repeating: "}", count: 33)).utf8), 161, "too deeply nested"),
    ]

    func testInvalidDocumentsNameTheColumnAndWhatWasExpected() {
        XCTAssertGreaterThanOrEqual(invalid.count, 40)
        for (bytes, column, fragment) in invalid {
            let text = String(decoding: bytes, as: UTF8.self).debugDescription
            do {
                let value = try JSONValue(parsing: bytes)
                XCTFail("\(text) parsed as \(value)")
            } catch {
                XCTAssertEqual(error.column, column, "\(text): \(error.message)")
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message) lacks \(fragment)")
            }
        }
    }

    func testIntegerAccessorsAreExactTo64Bits() {
        let table: [(String, Int64?, UInt64?)] = [
            ("0", 0, 0),
            ("-0", 0, 0),
            ("1024", 1024, 1024),
            ("1.024e3", 1024, 1024),
            ("1024.000", 1024, 1024),
            ("102400e-2", 1024, 1024),
            ("0.0e999999999999999", 0, 0),
            ("-1", -1, nil),
            ("9223372036854775807", .max, 9_223_372_036_854_775_807),
            ("9223372036854775808", nil, 9_223_372_036_854_775_808),
            ("-9223372036854775808", .min, nil),
            ("-9223372036854775809", nil, nil),
            ("18446744073709551615", nil, .max),
            ("18446744073709551616", nil, nil),
            ("1844674407370955161.5e1", nil, .max),
            ("1e19", nil, 10_000_000_000_000_000_000),
            ("1e20", nil, nil),
            ("1e999999999999999999999", nil, nil),
            ("1.5", nil, nil),
            ("1e-2", nil, nil),
            ("1e-999999999999999999", nil, nil),
        ]
        for (text, int64, uint64) in table {
            let number = JSONNumber(text)
            XCTAssertNotNil(number, text)
            XCTAssertEqual(number?.int64, int64, text)
            XCTAssertEqual(number?.uint64, uint64, text)
        }
    }

    func testDoubleAccessor() {
        XCTAssertEqual(JSONNumber("1.5")?.double, 1.5)
        XCTAssertEqual(JSONNumber("-2.5e-3")?.double, -0.0025)
        XCTAssertEqual(JSONNumber("18446744073709551615")?.double, 18446744073709551615.0)
        XCTAssertEqual(JSONNumber("1e-400")?.double, 0)
        XCTAssertNil(JSONNumber("1e400")?.double, "beyond Double's range")
    }

    func testNumberTextMustBeExactlyOneJSONNumber() {
        for text in ["01", "+1", "NaN", "Infinity", "-Infinity", " 1", "1 ", "1.", ".1", "0x1", "1e", "", "\"1\"", "[1]"] {
            XCTAssertNil(JSONNumber(text), text)
        }
        XCTAssertEqual(JSONNumber("-1.5E+10")?.text, "-1.5E+10")
    }

    func testAccessors() throws {
        let value = try parse(#"{"s":"x","n":1,"b":true,"a":[null],"o":{}}"#)
        XCTAssertEqual(value["s"]?.string, "x")
        XCTAssertEqual(value["n"]?.number?.int64, 1)
        XCTAssertEqual(value["b"]?.bool, true)
        XCTAssertEqual(value["a"]?.array, [.null])
        XCTAssertEqual(value["o"]?.object, [])
        XCTAssertNil(value["missing"])
        XCTAssertNil(value["s"]?.number)
        XCTAssertEqual(value.object?.map(\.key), ["s", "n", "b", "a", "o"])
        XCTAssertEqual(value["a"]?.typeDescription, "an array")
        XCTAssertEqual(JSONError(column: 3, message: "m").description, "column 3: m")
    }
}
