import Metrics
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The server against real sockets on the loopback, driven by hand:
/// `service(now:)` takes the time, so timeouts are tested without sleeping.
final class MetricsServerTests: XCTestCase {
    let body = Array("# TYPE x counter\nx 1\n".utf8)

    func makeServer(_ limits: MetricsServer.Limits = MetricsServer.Limits()) throws -> MetricsServer {
        try MetricsServer(address: ListenAddress(host: .ipv4(0x7f00_0001), port: 0), limits: limits)
    }

    /// A blocking client socket connected to the server (the kernel
    /// completes the handshake from the backlog, before any accept).
    func connectClient(to server: MetricsServer) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw XCTSkip("no socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        XCTAssertEqual(result, 0, "connect: \(errno)")
        addTeardownBlock { close(descriptor) }
        return descriptor
    }

    func send(_ text: String, on descriptor: Int32) {
        let bytes = Array(text.utf8)
        XCTAssertEqual(Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)), bytes.count)
    }

    /// Services the server until the client sees end of file; what it read.
    func response(on descriptor: Int32, server: MetricsServer, now: UInt64 = 0) -> String? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<2000 {
            server.service(now: now) { body }
            while true {
                let count = recv(descriptor, &chunk, chunk.count, Int32(MSG_DONTWAIT))
                if count == 0 { return String(decoding: received, as: UTF8.self) }
                if count < 0 { break }
                received += chunk[0..<count]
            }
            usleep(1000)
        }
        XCTFail("no end of file after 2 s; read so far: \(String(decoding: received, as: UTF8.self))")
        return nil
    }

    func testGetMetrics() throws {
        let server = try makeServer()
        let client = try connectClient(to: server)
        send("GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n", on: client)
        XCTAssertEqual(response(on: client, server: server), """
            HTTP/1.1 200 OK\r
            Content-Type: text/plain; version=0.0.4; charset=utf-8\r
            Content-Length: 21\r
            Connection: close\r
            \r
            # TYPE x counter
            x 1

            """)
        XCTAssertEqual(server.scrapes, 1)
        XCTAssertEqual(server.openConnections, 1, "waits for the client's FIN")
        shutdown(client, Int32(SHUT_WR))
        for _ in 0..<1000 where server.openConnections > 0 {
            server.service(now: 0) { body }
            usleep(1000)
        }
        XCTAssertEqual(server.openConnections, 0, "closed once the client closed its side")
    }

    func testClientThatHalfClosesAfterItsRequestGetsTheAnswer() throws {
        let server = try makeServer()
        let client = try connectClient(to: server)
        send("GET /metrics HTTP/1.0\r\n\r\n", on: client)
        shutdown(client, Int32(SHUT_WR))
        XCTAssertTrue(response(on: client, server: server)?.hasPrefix("HTTP/1.1 200 OK\r\n") ?? false)
        XCTAssertEqual(server.openConnections, 0)
    }

    func testClientThatLeavesBeforeItsRequestIsComplete() throws {
        let server = try makeServer()
        let client = try connectClient(to: server)
        send("GET /metrics HTTP/1.1\r\n", on: client)
        shutdown(client, Int32(SHUT_WR))
        XCTAssertEqual(response(on: client, server: server), "")
        XCTAssertEqual(server.openConnections, 0)
        XCTAssertEqual(server.scrapes, 0)
    }

    func testOtherRequestsGetErrors() throws {
        let table: [(String, String)] = [
            ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("GET /metrics/x HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 405 Method Not Allowed\r\n"),
            ("HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"),
            ("GET /metrics HTTP/2.0\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
            ("hello\n\n", "HTTP/1.1 400 Bad Request\r\n"),
        ]
        let server = try makeServer()
        for (request, statusLine) in table {
            let client = try connectClient(to: server)
            send(request, on: client)
            let text = response(on: client, server: server) ?? ""
            XCTAssertTrue(text.hasPrefix(statusLine), "\(request.debugDescription) -> \(text.debugDescription)")
            XCTAssertTrue(text.contains("Connection: close\r\n"), text)
        }
        XCTAssertEqual(server.scrapes, 0)
    }

    func testOversizedRequestIsRefusedWithoutGrowing() throws {
        var limits = MetricsServer.Limits()
        limits.maximumRequestBytes = 1024
        let server = try makeServer(limits)
        let client = try connectClient(to: server)
        send("GET /metrics HTTP/1.1\r\n" + String(repeating: "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", count: 40), on: client)
        let text = response(on: client, server: server) ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), text)
        XCTAssertEqual(server.scrapes, 0)
    }

    func testSlowClientTimesOut() throws {
        let server = try makeServer()
        let client = try connectClient(to: server)
        send("GET /metr", on: client)
        server.service(now: 1_000) { body }
        XCTAssertEqual(server.openConnections, 1)
        let timeout = server.limits.requestTimeoutNanoseconds
        XCTAssertEqual(server.nextDeadline, 1_000 + timeout)
        server.service(now: 1_000 + timeout - 1) { body }
        XCTAssertEqual(server.openConnections, 1, "still within its time")
        server.service(now: 1_000 + timeout) { body }
        XCTAssertEqual(server.openConnections, 0)
        XCTAssertEqual(server.timedOutConnections, 1)
        XCTAssertNil(server.nextDeadline)
        var byte: UInt8 = 0
        XCTAssertEqual(recv(client, &byte, 1, 0), 0, "the client sees the connection closed")
    }

    /// A client that sent its request but does not read the answer is
    /// closed at the overall timeout.
    func testClientThatDoesNotReadTimesOut() throws {
        let server = try makeServer()
        let client = try connectClient(to: server)
        var small: Int32 = 4096
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        send("GET /metrics HTTP/1.1\r\n\r\n", on: client)
        let large = [UInt8](repeating: UInt8(ascii: "x"), count: 8 << 20)
        for _ in 0..<100 where server.scrapes == 0 {
            server.service(now: 1_000) { large }
            usleep(1000)
        }
        XCTAssertEqual(server.scrapes, 1)
        server.service(now: 1_000 + server.limits.requestTimeoutNanoseconds) { large }
        XCTAssertEqual(server.openConnections, 1, "answering: only the overall timeout applies")
        XCTAssertEqual(server.nextDeadline, 1_000 + server.limits.timeoutNanoseconds)
        server.service(now: 1_000 + server.limits.timeoutNanoseconds) { large }
        XCTAssertEqual(server.openConnections, 0)
        XCTAssertEqual(server.timedOutConnections, 1)
    }

    func testConnectionsBeyondTheLimitAreClosed() throws {
        var limits = MetricsServer.Limits()
        limits.maximumConnections = 2
        let server = try makeServer(limits)
        let clients = try (0..<3).map { _ in try connectClient(to: server) }
        server.service(now: 0) { body }
        XCTAssertEqual(server.openConnections, 2)
        XCTAssertEqual(server.refusedConnections, 1)
        // The two kept still get their answers.
        for client in clients.prefix(2) {
            send("GET /metrics HTTP/1.1\r\n\r\n", on: client)
            XCTAssertTrue(response(on: client, server: server)?.hasPrefix("HTTP/1.1 200 OK\r\n") ?? false)
        }
    }

    /// `:port` listens on IPv6 and IPv4 at once.
    func testEveryInterfaceServesIPv4Clients() throws {
        let server = try MetricsServer(address: ListenAddress(host: .any, port: 0))
        let client = try connectClient(to: server)
        send("GET /metrics HTTP/1.1\r\n\r\n", on: client)
        XCTAssertTrue(response(on: client, server: server)?.hasPrefix("HTTP/1.1 200 OK\r\n") ?? false)
    }

    func testBusyPortNamesTheAddress() throws {
        let first = try makeServer()
        let address = ListenAddress(host: .ipv4(0x7f00_0001), port: first.port)
        XCTAssertThrowsError(try MetricsServer(address: address)) { error in
            XCTAssertEqual("\(error)", "cannot serve metrics on 127.0.0.1:\(first.port): bind failed: Address already in use; "
                           + "something else listens there: pick another port for --metrics")
        }
    }
}
