import ProbeEvents
#if canImport(Glibc)
import Glibc
#endif

/// Why one POST did not get a 2xx answer.
public enum DeliveryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// getaddrinfo failed (gai_strerror text).
    case resolve(String)
    case connect(errno: Int32)
    case send(errno: Int32)
    case receive(errno: Int32)
    /// No complete answer within the timeout; `phase` says what it waited for.
    case timeout(phase: String)
    /// The connection closed, or the answer was not HTTP.
    case badResponse(String)
    /// An HTTP status other than 2xx, with the start of the body.
    case status(Int, body: String)

    public var description: String {
        switch self {
        case .resolve(let message): "cannot resolve the host: \(message)"
        case .connect(let code): "connect: \(String(cString: strerror(code)))"
        case .send(let code): "send: \(String(cString: strerror(code)))"
        case .receive(let code): "receive: \(String(cString: strerror(code)))"
        case .timeout(let phase): "no answer in time (\(phase))"
        case .badResponse(let message): "bad response: \(message)"
        case .status(let code, let body): body.isEmpty ? "HTTP \(code)" : "HTTP \(code): \(body)"
        }
    }

    /// 4xx: Alertmanager read the request and refused (some of) it; sending
    /// the same again would not help.
    public var isRejection: Bool {
        if case .status(let code, _) = self { return (400..<500).contains(code) }
        return false
    }
}

/// A TCP socket, closed when dropped.
private final class Socket {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }
}

/// A minimal HTTP/1.1 client: one `Connection: close` request per call over
/// a non-blocking socket, every step bounded by one deadline (resolving the
/// name excepted: getaddrinfo has no timeout, which is why this runs on the
/// sender's own thread).
enum HTTPPost {
    /// POSTs `body` as JSON; returns the status code (2xx) or throws.
    static func send(_ body: [UInt8], to url: AlertmanagerURL, path: String,
                     timeoutNanoseconds: UInt64) throws(DeliveryError) -> Int {
        let deadline = WallClock.monotonicNow() + timeoutNanoseconds
        let socket = try connect(to: url, deadline: deadline)
        var request = "POST \(path) HTTP/1.1\r\nHost: \(url.hostForHeader):\(url.port)\r\n"
        request += "User-Agent: ark-probe\r\nContent-Type: application/json\r\n"
        request += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try write(Array(request.utf8) + body, to: socket, deadline: deadline)
        let answer = try readHead(from: socket, deadline: deadline)
        let status = try parseStatus(answer.head)
        guard (200..<300).contains(status) else {
            throw .status(status, body: String(decoding: answer.bodyStart.prefix(200), as: UTF8.self)
                .split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " "))
        }
        return status
    }

    /// The status code of "HTTP/1.1 200 OK".
    static func parseStatus(_ head: [UInt8]) throws(DeliveryError) -> Int {
        let line = head.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        let words = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
        guard words.count >= 2, words[0].starts(with: Array("HTTP/1.".utf8)), words[1].count == 3,
              let code = Int(String(decoding: words[1], as: UTF8.self)) else {
            throw .badResponse("not an HTTP status line: '\(String(decoding: line.prefix(80), as: UTF8.self))'")
        }
        return code
    }

    private static func connect(to url: AlertmanagerURL, deadline: UInt64) throws(DeliveryError) -> Socket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &list)
        guard status == 0, let first = list else {
            throw .resolve(String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var lastError = DeliveryError.connect(errno: ECONNREFUSED)
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                    | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else {
                lastError = .connect(errno: errno)
                continue
            }
            let candidate = Socket(descriptor: descriptor)
            if Glibc.connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return candidate }
            guard errno == EINPROGRESS else {
                lastError = .connect(errno: errno)
                continue
            }
            do {
                try wait(for: Int16(POLLOUT), on: candidate, deadline: deadline, phase: "connect")
            } catch {
                lastError = error
                continue
            }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
            if code == 0 { return candidate }
            lastError = .connect(errno: code)
        }
        throw lastError
    }

    private static func write(_ bytes: [UInt8], to socket: Socket, deadline: UInt64) throws(DeliveryError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.send(socket.descriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
                continue
            }
            guard errno == EAGAIN || errno == EINTR else { throw .send(errno: errno) }
            try wait(for: Int16(POLLOUT), on: socket, deadline: deadline, phase: "sending")
        }
    }

    /// Reads until the end of the response head (and what came with it).
    private static func readHead(from socket: Socket, deadline: UInt64) throws(DeliveryError) -> (head: [UInt8], bodyStart: [UInt8]) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < 65536 {
            let count = buffer.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
                if let end = headEnd(received) { return (Array(received[..<end]), Array(received[end...])) }
                continue
            }
            if count == 0 {
                if received.isEmpty { throw .badResponse("connection closed without an answer") }
                return (received, [])
            }
            guard errno == EAGAIN || errno == EINTR else { throw .receive(errno: errno) }
            try wait(for: Int16(POLLIN), on: socket, deadline: deadline, phase: "waiting for the answer")
        }
        throw .badResponse("response head longer than 64 KiB")
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private static func wait(for events: Int16, on socket: Socket, deadline: UInt64, phase: String) throws(DeliveryError) {
        while true {
            let now = WallClock.monotonicNow()
            guard now < deadline else { throw .timeout(phase: phase) }
            var request = pollfd(fd: socket.descriptor, events: events, revents: 0)
            let milliseconds = Int32(min((deadline - now) / 1_000_000 + 1, 60_000))
            let ready = poll(&request, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .receive(errno: errno) }
        }
    }
}
