// `sink`: accept TCP connections forever and discard what they send.

#if canImport(Glibc)
import Glibc
#endif

func runSink(_ args: ArraySlice<String>) -> Never {
    let role = "sink"
    let opts = parseOptions(args, role: role, valued: ["port", "bind", "rcvbuf", "ack-every"], flags: ["wait-for-go"])
    // With --ack-every N, each connection gets one byte back per N bytes
    // received: the acknowledgement a training step waits for.
    let ackEvery = opts.int("ack-every", role: role) ?? 0
    guard let port = opts.int("port", role: role) else { fail(role, "--port is required", code: 2) }
    let waitForGo = opts.has("wait-for-go")

    // Block the termination signals before any thread exists so every thread
    // inherits the mask; the main thread collects them with sigwait.
    var termination = sigset_t()
    sigemptyset(&termination)
    sigaddset(&termination, SIGTERM)
    sigaddset(&termination, SIGINT)
    sigaddset(&termination, SIGHUP)
    pthread_sigmask(SIG_BLOCK, &termination, nil)
    signal(SIGPIPE, SIG_IGN)

    let address: SocketAddress
    var dualStack = false
    if let bind = opts.string("bind") {
        guard let a = SocketAddress(host: bind, port: port) else { fail(role, "--bind: not an IP address: \(bind)", code: 2) }
        address = a
    } else {
        var any = sockaddr_in6()
        any.sin6_family = sa_family_t(AF_INET6)
        any.sin6_port = in_port_t(UInt16(port).bigEndian)
        any.sin6_addr = in6addr_any
        address = .v6(any)
        dualStack = true
    }

    let listener = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard listener >= 0 else { fail(role, "socket: \(errnoText())") }
    _ = setIntOption(listener, SOL_SOCKET, SO_REUSEADDR, 1)
    if dualStack && !setIntOption(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) {
        fail(role, "IPV6_V6ONLY=0: \(errnoText())")
    }
    // Inherited by accepted sockets; a small receive buffer makes a
    // --wait-for-go backlog reach a zero window quickly.
    if let rcvbuf = opts.int("rcvbuf", role: role) { setBufferSize(listener, send: false, bytes: rcvbuf) }
    let bound = address.withSockaddr { Glibc.bind(listener, $0, $1) }
    guard bound == 0 else { fail(role, "bind port \(port): \(errnoText())") }
    guard listen(listener, 1024) == 0 else { fail(role, "listen: \(errnoText())") }
    note("sink listening on \(localAddress(listener))\(waitForGo ? ", holding connections until \"go\"" : "")")

    let received = Counter()
    let go = Flag()
    if waitForGo {
        startThread {
            if waitForGoLine() {
                note("sink got \"go\"")
                go.set()
            } else {
                note("stdin closed before \"go\"; connections stay unread")
            }
        }
    } else {
        go.set()
    }

    startThread {
        while true {
            let conn = accept(listener, nil, nil)
            if conn < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                note("accept: \(errnoText())")
                usleep(10_000)
                continue
            }
            let peer = remoteAddress(conn)
            note("sink accepted \(peer)")
            let thread = startThread {
                go.wait()
                let size = 256 * 1024
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
                defer { buffer.deallocate() }
                var sinceAck = 0
                while true {
                    let n = recv(conn, buffer, size, 0)
                    if n > 0 {
                        received.add(n)
                        guard ackEvery > 0 else { continue }
                        sinceAck += n
                        while sinceAck >= ackEvery {
                            sinceAck -= ackEvery
                            var ack: UInt8 = 1
                            _ = send(conn, &ack, 1, Int32(MSG_NOSIGNAL))
                        }
                        continue
                    }
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { note("recv from \(peer): \(errnoText())") }
                    break
                }
                close(conn)
            }
            pthread_detach(thread)
        }
    }

    var caught: Int32 = 0
    while sigwait(&termination, &caught) != 0 {}
    note("sink stopping on signal \(caught)")
    emitJSON([("role", .string(role)), ("bytes", .int(received.current))])
    exit(0)
}
