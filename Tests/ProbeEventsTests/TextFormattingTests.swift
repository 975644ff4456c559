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

    func testLongStringsAreEscapedWhereverTheSpecialByteFalls() {
        let plain = Array("abcdefghijklmnopqrstuvwx".utf8)
        for (special, escape) in [(UInt8(ascii: "\""), "\\\""), (UInt8(ascii: "\\"), "\\\\"), (0x0a, "\\n"),
                                  (0x1f, "\\u001f"), (0x80, "\\u0080"), (0x7f, "\u{7f}")] {
            for position in plain.indices {
                var bytes = plain
                bytes[position] = special
                var writer = JSONLineWriter()
                bytes.withUnsafeBytes { writer.appendEscaped($0) }
                let expected = "\"" + String(decoding: plain[..<position], as: UTF8.self) + escape
                    + String(decoding: plain[(position + 1)...], as: UTF8.self) + "\""
                XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), expected)
            }
        }
    }

    func testCommandKeepsAtMostFifteenBytes() {
        XCTAssertEqual(Command("a-very-long-command-name").description, "a-very-long-com")
        XCTAssertEqual(Command("").description, "")
        XCTAssertEqual(Command("python3"), Command("python3"))
    }

    func testDecimalFormattingAtTheEdges() {
        for value: UInt64 in [0, 9, 10, 99, 100, 1_710_000_000_000, .max] {
            var bytes = JSONLineWriter(capacity: 32)
            bytes.appendUnsigned(value)
            XCTAssertEqual(String(decoding: bytes.bytes, as: UTF8.self), String(value))
        }
        var writer = JSONLineWriter()
        writer.beginObject()
        writer.field("n", Int64.min)
        writer.endLine()
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), "{\"n\":-9223372036854775808}\n")
    }

    // The event encoder's unchecked writes must agree with the checked ones.

    func testFastDecimalsAgreeWithTheStandardLibrary() {
        var values: [UInt64] = [0, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 99_999, 100_000, 4_026_531_840,
                                1_710_000_000_000, 9_999_999_999_999_999_999, 10_000_000_000_000_000_000, .max]
        // Each side of every power of ten: where the digit count changes.
        var power: UInt64 = 10
        for exponent in 1...19 {
            values += [power - 1, power, power + 1]
            if exponent < 19 { power *= 10 }
        }
        var state: UInt64 = 1
        for _ in 0..<1000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values.append(state >> (state % 64))
        }
        for value in values {
            var writer = JSONLineWriter(capacity: 64)
            writer.reserve(20)
            writer.putDecimal(value)
            XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), String(value))
        }
    }

    func testFastCommandsAgreeWithTheEscapingPath() {
        func raw(_ bytes: [UInt8]) -> Command {
            var padded = bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
            var tuple: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
                        CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &tuple) { $0.copyBytes(from: padded) }
            padded.removeAll()
            return Command(tuple)
        }
        let commands: [Command] = [
            Command(""), Command("a"), Command("python3"), Command("torchrun"), Command("nginx: worker"),
            Command("a-very-long-command-name"), Command("a\"b"), Command("back\\slash"), Command("tab\there"),
            Command("tōrch"), Command(bytes: [0x7f, 0x41]), Command(bytes: [0xff, 0x41, 0x42]),
            Command(bytes: Array("0123456\"".utf8)), Command(bytes: Array("01234567\"".utf8)),
            // From the kernel: no NUL in 16 bytes, or bytes left after the NUL.
            raw(Array("0123456789abcdef".utf8)), raw(Array("ab".utf8) + [0] + Array("\"\u{1}xyz".utf8)),
            raw([0x41, 0] + [UInt8](repeating: 0xff, count: 14)),
        ]
        for command in commands {
            var fast = JSONLineWriter(capacity: 64)
            fast.reserve(96)
            fast.putString(command)
            var checked = JSONLineWriter(capacity: 64)
            command.withBytes { checked.appendEscaped($0) }
            XCTAssertEqual(String(decoding: fast.bytes, as: UTF8.self), String(decoding: checked.bytes, as: UTF8.self),
                           "\(Array(command.description.utf8))")
        }
    }

    func testFastAddressesAgreeWithTheirDescription() {
        var addresses = [IPAddress(ipv4: 0, 0, 0, 0), IPAddress(ipv4: 255, 255, 255, 255), IPAddress(ipv4: 10, 0, 9, 100),
                         IPAddress(ipv4: 1, 22, 199, 200), IPAddress()]
        for high: UInt64 in [0, 0x2001_0db8_0000_0000, 0xfe80_0000_0000_0000, 0x0001_0000_0000_0000, 0x2001_0db8_0001_0001] {
            for low: UInt64 in [0, 1, 0x0000_ffff_0a00_0001, 0x0001_0000_0000_0001, 0x1234_0000_0000_ffff, 0xffff_ffff_ffff_ffff] {
                var bytes: [UInt8] = []
                for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
                for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: low >> UInt64(shift))) }
                addresses.append(IPAddress(bytes: bytes))
            }
        }
        for address in addresses {
            var writer = JSONLineWriter(capacity: 64)
            writer.reserve(40)
            writer.putText(address)
            XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), address.description)
        }
    }
}
