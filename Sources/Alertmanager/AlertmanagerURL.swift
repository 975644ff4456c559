/// Where to push alerts: `http://host:port[/prefix]`, the address of one
/// Alertmanager (one peer of a cluster). Only plain HTTP: the agent keeps
/// no TLS stack (put a local proxy in front for HTTPS or authentication).
public struct AlertmanagerURL: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// A name, an IPv4 address, or an IPv6 address without its brackets.
    public let host: String
    public let port: UInt16
    /// Empty, or a path starting with "/" and not ending with one (the
    /// route prefix of an Alertmanager behind a proxy).
    public let pathPrefix: String

    /// The text as given, normalized (no trailing "/").
    public var description: String {
        "http://" + hostForHeader + ":\(port)" + pathPrefix
    }

    /// The request target of the v2 alerts endpoint.
    public var alertsPath: String { pathPrefix + "/api/v2/alerts" }

    /// The host as written in a URL and a Host header: IPv6 in brackets.
    var hostForHeader: String { host.contains(":") ? "[" + host + "]" : host }

    public init(parsing text: String) throws(AlertmanagerURLError) {
        let scheme = "http://"
        guard text.hasPrefix(scheme) else {
            if text.lowercased().hasPrefix("https://") {
                throw AlertmanagerURLError(text, column: 1, "https is not supported: the agent speaks plain HTTP; "
                                           + "reach a TLS Alertmanager through a local proxy")
            }
            throw AlertmanagerURLError(text, column: 1, "expected http://host:port[/prefix]")
        }
        let bytes = Array(text.utf8)
        var index = scheme.utf8.count
        func column(_ position: Int) -> Int { position + 1 }

        let authorityEnd = bytes[index...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.count
        if let at = bytes[index..<authorityEnd].firstIndex(of: UInt8(ascii: "@")) {
            throw AlertmanagerURLError(text, column: column(at), "user information (user:password@) is not supported")
        }
        // Host: [IPv6] or a run of name characters.
        let hostStart = index
        let host: String
        if index < bytes.count && bytes[index] == UInt8(ascii: "[") {
            guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "]")) else {
                throw AlertmanagerURLError(text, column: column(index), "'[' of an IPv6 address without its ']'")
            }
            let inner = bytes[(index + 1)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ Self.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                throw AlertmanagerURLError(text, column: column(index + 1), "not an IPv6 address between '[' and ']'")
            }
            host = String(decoding: inner, as: UTF8.self)
            index = close + 1
        } else {
            while index < bytes.count, Self.isNameCharacter(bytes[index]) { index += 1 }
            guard index > hostStart else {
                if index < bytes.count, bytes[index] != UInt8(ascii: ":"), bytes[index] != UInt8(ascii: "/") {
                    throw AlertmanagerURLError(text, column: column(index), "unexpected '\(Self.character(bytes[index]))' where the host should be")
                }
                throw AlertmanagerURLError(text, column: column(index), "missing host after http://")
            }
            host = String(decoding: bytes[hostStart..<index], as: UTF8.self)
        }

        // Port: required; Alertmanager listens on 9093 by default, not 80.
        guard index < bytes.count else {
            throw AlertmanagerURLError(text, column: column(index), "missing port: add it, e.g. :9093")
        }
        guard bytes[index] == UInt8(ascii: ":") else {
            if bytes[index] == UInt8(ascii: "/") {
                throw AlertmanagerURLError(text, column: column(index), "missing port: add it, e.g. :9093")
            }
            throw AlertmanagerURLError(text, column: column(index), "unexpected '\(Self.character(bytes[index]))' in the host")
        }
        index += 1
        let portStart = index
        var port = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            port = min(port * 10 + Int(bytes[index] - UInt8(ascii: "0")), 100_000)
            index += 1
        }
        guard index > portStart else {
            throw AlertmanagerURLError(text, column: column(index), "missing port number after ':'")
        }
        guard port >= 1, port <= 65535 else {
            throw AlertmanagerURLError(text, column: column(portStart), "port must be from 1 to 65535")
        }

        // Path prefix: printable characters without query or fragment.
        let pathStart = index
        if index < bytes.count && ![UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#")].contains(bytes[index]) {
            throw AlertmanagerURLError(text, column: column(index), "unexpected '\(Self.character(bytes[index]))' after the port")
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                throw AlertmanagerURLError(text, column: column(index), "a query or fragment ('\(Self.character(byte))') has no place here")
            }
            guard byte > 0x20, byte < 0x7f else {
                throw AlertmanagerURLError(text, column: column(index), "space or control character in the path")
            }
            index += 1
        }
        var prefix = bytes[pathStart..<index]
        while prefix.last == UInt8(ascii: "/") { prefix = prefix.dropLast() }

        self.host = host
        self.port = UInt16(port)
        self.pathPrefix = String(decoding: prefix, as: UTF8.self)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    private static func isNameCharacter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
    }

    private static func character(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7f ? String(UnicodeScalar(byte)) : "\\u{\(String(byte, radix: 16))}"
    }
}

public struct AlertmanagerURLError: Error, Equatable, CustomStringConvertible {
    public let text: String
    /// 1-based position in the text of what is wrong.
    public let column: Int
    public let problem: String

    init(_ text: String, column: Int, _ problem: String) {
        self.text = text
        self.column = column
        self.problem = problem
    }

    public var description: String {
        "bad Alertmanager URL '\(text)' at column \(column): \(problem) (expected http://host:port[/prefix])"
    }
}
