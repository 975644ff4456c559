// `exit-together`: a process that owns a socket (its connect to a closed
// port on --to is refused) and exits with --threads threads alive, so that
// they die together: each finds its process's live count at zero, and the
// probe must still report one exit.

#if canImport(Glibc)
import Glibc
#endif

func runExitTogether(_ args: ArraySlice<String>) -> Never {
    let role = "exit-together"
    let opts = parseOptions(args, role: role, valued: ["to", "port", "threads"], flags: [])
    guard let host = opts.string("to") else { fail(role, "--to is required", code: 2) }
    guard let port = opts.int("port", role: role) else { fail(role, "--port is required", code: 2) }
    guard let threads = opts.int("threads", role: role), threads >= 1 else { fail(role, "--threads T (T >= 1) is required", code: 2) }
    guard let address = SocketAddress(host: host, port: port) else { fail(role, "--to: not an IP address: \(host)", code: 2) }

    let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { fail(role, "socket: \(errnoText())") }
    guard address.withSockaddr({ connect(fd, $0, $1) }) != 0 else { fail(role, "connect to \(host) port \(port) succeeded") }
    var started: [Int32] = [0, 0]
    guard pipe(&started) == 0 else { fail(role, "pipe: \(errnoText())") }
    let (readEnd, writeEnd) = (started[0], started[1])
    for _ in 0..<threads {
        _ = startThread {
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
            // Spins: threads on every CPU when exit_group() kills them.
            while true {}
        }
    }
    var byte: UInt8 = 0
    for _ in 0..<threads where read(readEnd, &byte, 1) != 1 { fail(role, "read: \(errnoText())") }
    emitJSON([("role", .string(role)), ("pid", .int(Int(getpid()))), ("threads", .int(threads))])
    exit(0)
}
