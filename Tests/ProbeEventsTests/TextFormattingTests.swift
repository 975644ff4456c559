import XCTest
@testable import ProbeEvents

final class TextFormattingTests: XCTestCase {
    func address(_ bytes: [UInt8]) -> String { IPAddress(bytes: bytes).description }

    func testIPAddressesFollowRFC5952() {
        let table: [([UInt8], String)] = [
            ([0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 192,168,1,20], "192.168.1.20"),
            ([0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 0,0,0,0], "0.0.0.0"),
            ([0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,1], "::1"),
            ([0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,0], "::"),
            ([0xfd,0x00, 0x0a,0x7c, 0,1, 0,0, 0,0, 0,0, 0,0, 0,1], "fd00:a7c:1::1"),
            ([0x20,0x01, 0x0d,0xb8, 0,0, 0,1, 0,0, 0,0, 0,1, 0,0], "2001:db8:0:1::1:0"),
            ([0x20,0x01, 0x0d,0xb8, 0,0, 0,0, 0,1, 0,0, 0,0, 0,1], "2001:db8::1:0:0:1"),
            ([0x20,0x01, 0x0d,0xb8, 0,1, 0,1, 0,1, 0,1, 0,1, 0,1], "2001:db8:1:1:1:1:1:1"),
            ([0xfe,0x80, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0], "fe80::"),
            ([0,1, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0], "1::"),
            ([0x20,0x01, 0x0d,0xb8, 0,0, 0xab,0xcd, 0x12,0x34, 0,0, 0,0, 0xff,0xff], "2001:db8:0:abcd:1234::ffff"),
        ]
        for (bytes, expected) in table {
            XCTAssertEqual(address(bytes), expected)
        }
    }

    func testStringsAreEscapedAndInvalidUTF8IsKept() {
        func escaped(_ bytes: [UInt8]) -> String {
            var writer = JSONLineWriter()
            bytes.withUnsafeBytes { writer.appendEscaped($0) }
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        XCTAssertEqual(escaped(Array("plain".utf8)), #""plain""#)
        XCTAssertEqual(escaped(Array("a\"b\\c".utf8)), #""a\"b\\c""#)
        XCTAssertEqual(escaped([0x0a, 0x09, 0x01, 0x1f]), #""\n\t\u0001\u001f""#)
        XCTAssertEqual(escaped(Array("tōrch".utf8)), "\"tōrch\"")
        XCTAssertEqual(escaped([0x61, 0xff, 0x62]), #""a\u00ffb""#)
        XCTAssertEqual(escaped([0xe2, 0x82]), #""\u00e2\u0082""#)      // truncated sequence
        XCTAssertEqual(escaped([0xc0, 0xaf]), #""\u00c0\u00af""#)      // overlong
        XCTAssertEqual(escaped([0xed, 0xa0, 0x80]), #""\u00ed\u00a0\u0080""#)  // surrogate
    }

    func testCommandKeepsAtMostFifteenBytes() {
        XCTAssertEqual(Command("a-very-long-command-name").description, "a-very-long-com")
        XCTAssertEqual(Command("").description, "")
        XCTAssertEqual(Command("python3"), Command("python3"))
    }

    func testDecimalFormattingAtTheEdges() {
        for value: UInt64 in [0, 9, 10, 99, 100, 1_710_000_000_000, .max] {
            var bytes: [UInt8] = []
            appendDecimal(value, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), String(value))
        }
        var writer = JSONLineWriter()
        writer.beginObject()
        writer.field("n", Int64.min)
        writer.endLine()
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), "{\"n\":-9223372036854775808}\n")
    }
}
