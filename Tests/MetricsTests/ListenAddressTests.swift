import Metrics
import XCTest

final class ListenAddressTests: XCTestCase {
    func testValidAddresses() throws {
        let table: [(String, ListenAddress.Host, UInt16)] = [
            ("127.0.0.1:9464", .ipv4(0x7f00_0001), 9464),
            ("0.0.0.0:80", .ipv4(0), 80),
            ("localhost:1", .ipv4(0x7f00_0001), 1),
            (":9464", .any, 9464),
            ("[::1]:65535", .ipv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 65535),
            ("[::]:9000", .ipv6([UInt8](repeating: 0, count: 16)), 9000),
        ]
        for (text, host, port) in table {
            let address = try ListenAddress(parsing: text)
            XCTAssertEqual(address.host, host, text)
            XCTAssertEqual(address.port, port, text)
            XCTAssertEqual(address.description, text)
        }
    }

    func testBadAddressesSayWhatIsWrong() {
        let table: [(String, String)] = [
            ("", "no port"),
            ("9464", "no port"),
            ("127.0.0.1", "no port"),
            ("127.0.0.1:", "no port after ':'"),
            (":0", "the port must be a number from 1 to 65535, not '0'"),
            (":65536", "the port must be a number from 1 to 65535, not '65536'"),
            (":+80", "the port must be a number from 1 to 65535, not '+80'"),
            (":http", "the port must be a number from 1 to 65535, not 'http'"),
            ("::1:9464", "an IPv6 address needs brackets"),
            ("[::1:9464", "'[' without ']'"),
            ("[::1]9464", "expected ':port' after ']'"),
            ("[]:9464", "empty IPv6 address between '[' and ']'"),
            ("[127.0.0.1]:9464", "'127.0.0.1' is not an IPv6 address"),
            ("256.0.0.1:9464", "'256.0.0.1' is not an IPv4 address (host names other than localhost are not looked up)"),
            ("example.com:9464", "'example.com' is not an IPv4 address (host names other than localhost are not looked up)"),
        ]
        for (text, problem) in table {
            XCTAssertThrowsError(try ListenAddress(parsing: text), text) { error in
                XCTAssertEqual("\(error)", "metrics address '\(text)': \(problem); write host:port, [ipv6]:port or :port, "
                               + "e.g. 127.0.0.1:9464")
            }
        }
    }
}
