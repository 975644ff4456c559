/// The request line of an HTTP/1.x request, from the bytes read so far.
/// Headers are read to find the end of the request and otherwise ignored:
/// the server answers one fixed resource.
public enum HTTPRequestHead: Equatable, Sendable {
    /// No blank line yet: read more (or give up at the size limit).
    case incomplete
    case request(method: String, path: String)
    /// Not HTTP/1.x: why, for the 400 response.
    case malformed(String)

    public init(parsing bytes: ArraySlice<UInt8>) {
        guard let end = Self.endOfHead(bytes) else {
            self = .incomplete
            return
        }
        let head = bytes[bytes.startIndex..<end]
        let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) ?? head.endIndex
        var line = head[head.startIndex..<lineEnd]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            self = .malformed("the request line is not 'METHOD /path HTTP/1.1'")
            return
        }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            self = .malformed("the method is not an upper-case token")
            return
        }
        guard version.elementsEqual("HTTP/1.1".utf8) || version.elementsEqual("HTTP/1.0".utf8) else {
            self = .malformed("not HTTP/1.0 or HTTP/1.1")
            return
        }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            self = .malformed("the target is not an absolute path")
            return
        }
        let path = target.prefix { $0 != UInt8(ascii: "?") }
        self = .request(method: String(decoding: method, as: UTF8.self), path: String(decoding: path, as: UTF8.self))
    }

    /// Where the head ends: after the first empty line (CRLF CRLF, or bare LF LF).
    static func endOfHead(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8>.Index? {
        var index = bytes.startIndex
        var newlines = 0
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: "\n"):
                newlines += 1
                if newlines == 2 { return index + 1 }
            case UInt8(ascii: "\r"):
                break
            default:
                newlines = 0
            }
            index += 1
        }
        return nil
    }
}
