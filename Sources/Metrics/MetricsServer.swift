import CLinux
#if canImport(Glibc)
import Glibc
#endif

public struct MetricsServerError: Error, CustomStringConvertible {
    public let address: ListenAddress
    public let call: String
    public let errno: Int32

    public var description: String {
        var text = "cannot serve metrics on \(address): \(call) failed: \(String(cString: strerror(errno)))"
        if errno == EADDRINUSE { text += "; something else listens there: pick another port for --metrics" }
        if errno == EADDRNOTAVAIL { text += "; no interface has that address: use one of this host's addresses" }
        if errno == EACCES { text += "; ports below 1024 need CAP_NET_BIND_SERVICE" }
        return text
    }
}

/// A minimal HTTP/1.1 server for `GET /metrics`, driven by its owner's
/// loop: `pollDescriptor` (an epoll descriptor of its own over the
/// listening socket and the connections) becomes readable when there is
/// work, and `service` does it without ever blocking. One request per
/// connection (`Connection: close`). Bounded: at most `maximumConnections`
/// at once (more are closed on accept), a request head of at most
/// `maximumRequestBytes` that must arrive within `requestTimeoutNanoseconds`
/// of the accept, and each connection closed `timeoutNanoseconds` after it
/// was accepted, whatever state it is in; a slow or hostile client costs a
/// descriptor and a buffer for that long, never a stall.
public final class MetricsServer {
    public struct Limits: Sendable {
        public var maximumConnections = 8
        public var maximumRequestBytes = 8192
        public var requestTimeoutNanoseconds: UInt64 = 2_000_000_000
        public var timeoutNanoseconds: UInt64 = 10_000_000_000

        public init() {}
    }

    private struct Connection {
        enum Phase { case reading, writing, lingering }
        var phase = Phase.reading
        var request: [UInt8] = []
        var response: [UInt8] = []
        var written = 0
        var peerClosed = false
        let accepted: UInt64
        /// Until the request is in: `accepted` + the request timeout.
        var deadline: UInt64
    }

    public let address: ListenAddress
    public let limits: Limits
    /// Requests answered with 200, and connections closed at accept
    /// because the server was full, since start.
    public private(set) var scrapes: UInt64 = 0
    public private(set) var refusedConnections: UInt64 = 0
    public private(set) var timedOutConnections: UInt64 = 0

    private let listener: Int32
    private let epoll: Int32
    private var connections: [Int32: Connection] = [:]

    /// Binds and listens now, so a bad or busy address fails at start-up.
    public init(address: ListenAddress, limits: Limits = Limits()) throws(MetricsServerError) {
        self.address = address
        self.limits = limits
        let listener = try Self.listen(on: address)
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else {
            let code = errno
            close(listener)
            throw MetricsServerError(address: address, call: "epoll_create1", errno: code)
        }
        self.listener = listener
        self.epoll = epoll
        if !Self.control(epoll, EPOLL_CTL_ADD, listener, events: EPOLLIN.rawValue) {
            let code = errno
            close(listener)
            close(epoll)
            throw MetricsServerError(address: address, call: "epoll_ctl", errno: code)
        }
    }

    deinit {
        for descriptor in connections.keys { close(descriptor) }
        close(listener)
        close(epoll)
    }

    /// Readable when a connection waits to be accepted, read or written.
    public var pollDescriptor: Int32 { epoll }

    /// The port actually bound.
    public var port: UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    }

    public var openConnections: Int { connections.count }

    /// The earliest moment (CLOCK_MONOTONIC ns) a connection times out.
    public var nextDeadline: UInt64? { connections.values.lazy.map(\.deadline).min() }

    /// Accepts, reads and writes whatever is ready, answers complete
    /// requests (`render` makes the body of a `GET /metrics`) and closes
    /// connections past their deadline. Never blocks.
    public func service(now: UInt64, render: () -> [UInt8]) {
        var ready = [epoll_event](repeating: epoll_event(), count: limits.maximumConnections + 1)
        let count = epoll_wait(epoll, &ready, Int32(ready.count), 0)
        for event in ready.prefix(Int(max(count, 0))) {
            let descriptor = event.data.fd
            if descriptor == listener {
                acceptAll(now: now)
            } else if connections[descriptor] != nil {
                advance(descriptor, render: render)
            }
        }
        for (descriptor, connection) in connections where connection.deadline <= now {
            timedOutConnections += 1
            finish(descriptor)
        }
    }

    /// At most a few dozen per call: a flood of connections must not keep
    /// the owner's loop here.
    private func acceptAll(now: UInt64) {
        for _ in 0..<64 {
            // accept4 is hidden behind _GNU_SOURCE in Glibc's module.
            let descriptor = accept(listener, nil, nil)
            guard descriptor >= 0 else { return }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            guard connections.count < limits.maximumConnections,
                  Self.control(epoll, EPOLL_CTL_ADD, descriptor, events: EPOLLIN.rawValue) else {
                refusedConnections += 1
                close(descriptor)
                continue
            }
            connections[descriptor] = Connection(accepted: now, deadline: now + limits.requestTimeoutNanoseconds)
        }
    }

    private func advance(_ descriptor: Int32, render: () -> [UInt8]) {
        guard var connection = connections[descriptor] else { return }
        switch connection.phase {
        case .reading:
            var chunk = [UInt8](repeating: 0, count: 2048)
            while connection.request.count <= limits.maximumRequestBytes {
                let count = read(descriptor, &chunk, chunk.count)
                if count > 0 {
                    connection.request += chunk[0..<count]
                } else if count == 0 {
                    // A client may half-close after its request; it still reads.
                    connection.peerClosed = true
                    break
                } else if errno == EAGAIN || errno == EINTR {
                    break
                } else {
                    finish(descriptor)
                    return
                }
            }
            switch HTTPRequestHead(parsing: connection.request[...]) {
            case .incomplete:
                if connection.peerClosed {
                    finish(descriptor)
                    return
                }
                guard connection.request.count > limits.maximumRequestBytes else {
                    connections[descriptor] = connection
                    return
                }
                connection.response = Self.response(status: "431 Request Header Fields Too Large",
                                                    body: "request head over \(limits.maximumRequestBytes) bytes\n")
            case .malformed(let reason):
                connection.response = Self.response(status: "400 Bad Request", body: reason + "\n")
            case .request(let method, let path):
                if path != "/metrics" {
                    connection.response = Self.response(status: "404 Not Found", body: "only /metrics is served here\n")
                } else if method != "GET" {
                    connection.response = Self.response(status: "405 Method Not Allowed", extraHeaders: "Allow: GET\r\n",
                                                        body: "/metrics answers GET only\n")
                } else {
                    scrapes += 1
                    connection.response = Self.response(
                        status: "200 OK", contentType: "text/plain; version=0.0.4; charset=utf-8", body: render())
                }
            }
            connection.request = []
            connection.phase = .writing
            connection.deadline = connection.accepted + limits.timeoutNanoseconds
            _ = Self.control(epoll, EPOLL_CTL_MOD, descriptor, events: EPOLLOUT.rawValue)
            connections[descriptor] = connection
            advance(descriptor, render: render)
        case .writing:
            while connection.written < connection.response.count {
                let count = connection.response.withUnsafeBytes {
                    send(descriptor, $0.baseAddress! + connection.written, $0.count - connection.written, Int32(MSG_NOSIGNAL))
                }
                if count < 0 {
                    guard errno == EAGAIN || errno == EINTR else {
                        finish(descriptor)
                        return
                    }
                    connections[descriptor] = connection
                    return
                }
                connection.written += count
            }
            // Close gracefully: FIN now, then wait for the client's, so
            // that unread request bytes do not turn the close into a reset
            // that could discard the response on the client's side.
            guard !connection.peerClosed else {
                finish(descriptor)
                return
            }
            shutdown(descriptor, Int32(SHUT_WR))
            connection.response = []
            connection.phase = .lingering
            _ = Self.control(epoll, EPOLL_CTL_MOD, descriptor, events: EPOLLIN.rawValue)
            connections[descriptor] = connection
        case .lingering:
            // Bounded per call, like everything here: a client streaming
            // bytes at us must not keep the owner's loop here.
            var discard = [UInt8](repeating: 0, count: 2048)
            for _ in 0..<32 {
                let count = read(descriptor, &discard, discard.count)
                if count > 0 { continue }
                if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
                finish(descriptor)
                return
            }
        }
    }

    private func finish(_ descriptor: Int32) {
        connections[descriptor] = nil
        close(descriptor)
    }

    static func response(status: String, contentType: String = "text/plain; charset=utf-8",
                         extraHeaders: String = "", body: String) -> [UInt8] {
        response(status: status, contentType: contentType, extraHeaders: extraHeaders, body: Array(body.utf8))
    }

    static func response(status: String, contentType: String, extraHeaders: String = "", body: [UInt8]) -> [UInt8] {
        let head = "HTTP/1.1 " + status + "\r\nContent-Type: " + contentType + "\r\nContent-Length: "
            + MetricsText.decimal(UInt64(body.count)) + "\r\n" + extraHeaders + "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    private static func control(_ epoll: Int32, _ operation: Int32, _ descriptor: Int32, events: UInt32) -> Bool {
        var event = epoll_event()
        event.events = events
        event.data.fd = descriptor
        return epoll_ctl(epoll, operation, descriptor, &event) == 0
    }

    private static func listen(on address: ListenAddress) throws(MetricsServerError) -> Int32 {
        func fail(_ call: String, _ code: Int32, closing descriptor: Int32 = -1) -> MetricsServerError {
            if descriptor >= 0 { close(descriptor) }
            return MetricsServerError(address: address, call: call, errno: code)
        }
        let family: Int32
        switch address.host {
        case .ipv4: family = AF_INET
        case .ipv6, .any: family = AF_INET6
        }
        let type = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        var descriptor = socket(family, type, 0)
        var boundFamily = family
        if descriptor < 0, address.host == .any, errno == EAFNOSUPPORT {
            // A kernel without IPv6: every IPv4 interface.
            descriptor = socket(AF_INET, type, 0)
            boundFamily = AF_INET
        }
        guard descriptor >= 0 else { throw fail("socket", errno) }
        var on: Int32 = 1, off: Int32 = 0
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32
        if boundFamily == AF_INET {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = address.port.bigEndian
            if case .ipv4(let host) = address.host { socketAddress.sin_addr.s_addr = host.bigEndian }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = address.port.bigEndian
            if case .ipv6(let bytes) = address.host {
                withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: bytes) }
            } else {
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
            }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard result == 0 else { throw fail("bind", errno, closing: descriptor) }
        guard Glibc.listen(descriptor, 64) == 0 else { throw fail("listen", errno, closing: descriptor) }
        return descriptor
    }
}
