import ProbeEvents
import TraceFormat
import XCTest

final class IPAddressTextTests: XCTestCase {
    func ipv6(_ groups: [UInt16]) -> IPAddress {
        IPAddress(bytes: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
    }

    func testValidAddresses() {
        let table: [(String, IPAddress)] = [
            ("10.0.0.1", IPAddress(ipv4: 10, 0, 0, 1)),
            ("0.0.0.0", IPAddress(ipv4: 0, 0, 0, 0)),
            ("255.255.255.255", IPAddress(ipv4: 255, 255, 255, 255)),
            ("::ffff:10.0.0.1", IPAddress(ipv4: 10, 0, 0, 1)),
            ("::FFFF:a00:1", IPAddress(ipv4: 10, 0, 0, 1)),
            ("0:0:0:0:0:ffff:10.0.0.1", IPAddress(ipv4: 10, 0, 0, 1)),
            ("::", IPAddress()),
            ("0:0:0:0:0:0:0:0", IPAddress()),
            ("::1", ipv6([0, 0, 0, 0, 0, 0, 0, 1])),
            ("1::", ipv6([1, 0, 0, 0, 0, 0, 0, 0])),
            ("fe80::1", ipv6([0xfe80, 0, 0, 0, 0, 0, 0, 1])),
            ("2001:db8::ff00:42:8329", ipv6([0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329])),
            ("2001:0db8:0000:0000:0000:ff00:0042:8329", ipv6([0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329])),
            ("2001:DB8::1", ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])),
            ("1:2:3:4:5:6:7:8", ipv6([1, 2, 3, 4, 5, 6, 7, 8])),
            ("1:2:3:4:5:6:7::", ipv6([1, 2, 3, 4, 5, 6, 7, 0])),
            ("::2:3:4:5:6:7:8", ipv6([0, 2, 3, 4, 5, 6, 7, 8])),
            ("1:0:0:2::3", ipv6([1, 0, 0, 2, 0, 0, 0, 3])),
            ("64:ff9b::192.0.2.33", ipv6([0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221])),
            ("::1.2.3.4", ipv6([0, 0, 0, 0, 0, 0, 0x0102, 0x0304])),
            ("1:2:3:4:5:6:1.2.3.4", ipv6([1, 2, 3, 4, 5, 6, 0x0102, 0x0304])),
        ]
        for (text, expected) in table {
            XCTAssertEqual(IPAddress(text: text), expected, text)
        }
    }

    func testInvalidAddresses() {
        let table = [
            "", " ", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2..4", ".1.2.3",
            "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "a.b.c.d", "1.2.3.4x", "1234.1.1.1", "0x1.2.3.4",
            ":", ":::", "1:2", ":1::", "1::2:", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
            "1::2::3", "::1::", "12345::", "g::1", "fe80::1%eth0", "::1/128", "[::1]", "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.256",
            "::ffff:01.2.3.4", "1:2:3:4:5:6:7:8 ", "::-1", "::+1", "１.2.3.4",
        ]
        for text in table {
            XCTAssertNil(IPAddress(text: text), text)
        }
    }

    /// Whatever the encoder writes (dotted quad for IPv4-mapped, RFC 5952
    /// otherwise) parses back to the same address.
    func testEveryEncodedAddressParsesBack() {
        var generator = SeededGenerator(seed: 5952)
        for round in 0..<5000 {
            var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Runs of zero groups, so "::" appears in every position.
            for group in 0..<8 where Int.random(in: 0..<3, using: &generator) == 0 {
                bytes[2 * group] = 0
                bytes[2 * group + 1] = 0
            }
            if round % 5 == 0 { bytes.replaceSubrange(0..<12, with: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) }
            let address = IPAddress(bytes: bytes)
            XCTAssertEqual(IPAddress(text: address.description), address, address.description)
        }
    }
}
