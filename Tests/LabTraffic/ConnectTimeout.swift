// `connect-timeout`: start a non-blocking connect to a port whose SYNs are
// dropped, wait, and report how many SYN retransmissions the kernel made.

#if canImport(Glibc)
import Glibc
#endif

func runConnectTimeout(_ args: ArraySlice<String>) -> Never {
    let role = "connect"
    let opts = parseOptions(args, role: role, valued: ["to", "port", "wait"], flags: [])
    guard let host = opts.string("to") else { fail(role, "--to is required", code: 2) }
    guard let port = opts.int("port", role: role) else { fail(role, "--port is required", code: 2) }
    guard let wait = opts.double("wait", role: role), wait >= 0 else { fail(role, "--wait SECONDS is required", code: 2) }
    guard let address = SocketAddress(host: host, port: port) else { fail(role, "--to: not an IP address: \(host)", code: 2) }
    let pid = Int(getpid())

    let fd = socket(address.family,
                    Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { fail(role, "socket: \(errnoText())") }
    let rc = address.withSockaddr { connect(fd, $0, $1) }
    if rc != 0 && errno != EINPROGRESS { fail(role, "connect to \(host) port \(port): \(errnoText())") }
    if rc == 0 { note("connect completed immediately (SYNs are not being dropped?)") }
    let local = localAddress(fd)
    note("connecting \(local) -> \(host) port \(port), waiting \(wait) s")
    sleepSeconds(wait)

    guard let info = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
    emitJSON([("role", .string(role)), ("pid", .int(pid)), ("local", .string(local)),
              ("total_retrans", .int(info.totalRetrans)), ("state", .int(info.state)),
              ("retransmits", .int(info.retransmits)), ("rto_us", .int(info.rtoMicros))])
    close(fd)
    exit(0)
}
