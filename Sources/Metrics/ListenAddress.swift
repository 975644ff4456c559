#if canImport(Glibc)
import Glibc
#endif

/// Where the metrics server listens: `host:port`, `[ipv6]:port` or `:port`
/// (every interface, IPv6 and IPv4). Hosts are numeric addresses or
/// `localhost`, so that starting never waits on a name lookup.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    public enum Host: Equatable, Sendable {
        case ipv4(UInt32)
        case ipv6([UInt8])
        /// Every interface.
        case any
    }

    public let host: Host
    public let port: UInt16
    /// The address as the user wrote it, for messages.
    public let description: String

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Port 0: any free port (see `MetricsServer.port`); for tests.
    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
        switch host {
        case .ipv4(let address):
            description = "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff):\(port)"
        case .ipv6: description = "[ipv6]:\(port)"
        case .any: description = ":\(port)"
        }
    }

    public init(parsing text: String) throws(ParseError) {
        func fail(_ problem: String) -> ParseError {
            ParseError(description: "metrics address '\(text)': \(problem); write host:port, [ipv6]:port or :port, "
                + "e.g. 127.0.0.1:9464")
        }
        let hostText: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail("'[' without ']'") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail("expected ':port' after ']'") }
            portText = rest.dropFirst()
            guard !hostText.isEmpty else { throw fail("empty IPv6 address between '[' and ']'") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw fail("no port") }
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostText.contains(":") { throw fail("an IPv6 address needs brackets") }
        }
        guard !portText.isEmpty else { throw fail("no port after ':'") }
        guard portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let port = UInt16(portText), port > 0 else {
            throw fail("the port must be a number from 1 to 65535, not '\(portText)'")
        }
        self.port = port
        description = text
        if hostText.isEmpty {
            host = .any
        } else if hostText == "localhost" {
            host = .ipv4(0x7f00_0001)
        } else if text.hasPrefix("[") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(hostText), &address) == 1 else {
                throw fail("'\(hostText)' is not an IPv6 address")
            }
            host = .ipv6(withUnsafeBytes(of: address) { Array($0) })
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, String(hostText), &address) == 1 else {
                throw fail("'\(hostText)' is not an IPv4 address (host names other than localhost are not looked up)")
            }
            host = .ipv4(UInt32(bigEndian: address.s_addr))
        }
    }
}
