// Support code for ark-lab-traffic: argument parsing, JSON output, sockets,
// TCP_INFO, threads. Test-only; never shipped.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// MARK: - Output

/// Writes one line to stdout and flushes (stdout is a pipe in the lab).
func emitLine(_ line: String) {
    writeAll(1, line + "\n")
}

/// One write(2) per line, unbuffered, so lines from different threads never
/// interleave and nothing is lost when the process exits.
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
    }
}

/// Diagnostics go to stderr only.
func note(_ message: String) {
    writeAll(2, "ark-lab-traffic[\(getpid())]: \(message)\n")
}

/// A JSON value small enough for our output lines (ints and strings).
enum JSONValue {
    case int(Int)
    case string(String)
    case bool(Bool)

    var encoded: String {
        switch self {
        case .int(let v): return String(v)
        case .bool(let v): return v ? "true" : "false"
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        }
    }
}

/// Prints one JSON object line, keys in the given order.
func emitJSON(_ pairs: [(String, JSONValue)]) {
    let body = pairs.map { JSONValue.string($0.0).encoded + ":" + $0.1.encoded }
        .joined(separator: ",")
    emitLine("{" + body + "}")
}

/// Reports a failure as one JSON line on stdout (so a harness waiting for a
/// line fails fast) plus a diagnostic on stderr, then exits.
func fail(_ role: String, _ message: String, code: Int32 = 1) -> Never {
    note("error: \(message)")
    emitJSON([("role", .string(role)), ("error", .string(message))])
    exit(code)
}

func errnoText(_ err: Int32 = errno) -> String {
    String(cString: strerror(err)) + " (errno \(err))"
}

// MARK: - Arguments

struct Options {
    var values: [String: String] = [:]
    var flags: Set<String> = []

    func string(_ name: String) -> String? { values[name] }

    func int(_ name: String, role: String) -> Int? {
        guard let raw = values[name] else { return nil }
        guard let v = Int(raw) else { fail(role, "--\(name) expects an integer, got \(raw)", code: 2) }
        return v
    }

    func double(_ name: String, role: String) -> Double? {
        guard let raw = values[name] else { return nil }
        guard let v = Double(raw) else { fail(role, "--\(name) expects a number, got \(raw)", code: 2) }
        return v
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
}

func parseOptions(_ args: ArraySlice<String>, role: String,
                  valued: Set<String>, flags: Set<String>) -> Options {
    var options = Options()
    var it = args.makeIterator()
    while let arg = it.next() {
        guard arg.hasPrefix("--") else { fail(role, "unexpected argument \(arg)", code: 2) }
        var name = String(arg.dropFirst(2))
        var inlineValue: String?
        if let eq = name.firstIndex(of: "=") {
            inlineValue = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        if valued.contains(name) {
            guard let value = inlineValue ?? it.next() else { fail(role, "--\(name) needs a value", code: 2) }
            options.values[name] = value
        } else if flags.contains(name), inlineValue == nil {
            options.flags.insert(name)
        } else {
            fail(role, "unknown option --\(name)", code: 2)
        }
    }
    return options
}

// MARK: - Addresses

enum SocketAddress {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// Parses an IPv4 or IPv6 literal (no DNS: the lab only uses literals).
    init?(host: String, port: Int) {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        guard (0...65535).contains(port) else { return nil }
        var a4 = sockaddr_in()
        if inet_pton(AF_INET, h, &a4.sin_addr) == 1 {
            a4.sin_family = sa_family_t(AF_INET)
            a4.sin_port = in_port_t(UInt16(port).bigEndian)
            self = .v4(a4)
            return
        }
        var a6 = sockaddr_in6()
        if inet_pton(AF_INET6, h, &a6.sin6_addr) == 1 {
            a6.sin6_family = sa_family_t(AF_INET6)
            a6.sin6_port = in_port_t(UInt16(port).bigEndian)
            self = .v6(a6)
            return
        }
        return nil
    }

    var family: Int32 {
        switch self {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .v4(var a):
            return withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var a):
            return withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}

/// "10.0.0.1:80" for IPv4, "[fd00::1]:80" for IPv6.
func describe(_ storage: sockaddr_storage) -> String {
    var s = storage
    var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(s.ss_family) {
    case AF_INET:
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var addr = p.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ":" + String(UInt16(bigEndian: p.pointee.sin_port))
            }
        }
    case AF_INET6:
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var addr = p.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                return "[" + String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "]:" + String(UInt16(bigEndian: p.pointee.sin6_port))
            }
        }
    default:
        return "?"
    }
}

func localAddress(_ fd: Int32) -> String {
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return rc == 0 ? describe(storage) : "?"
}

func remoteAddress(_ fd: Int32) -> String {
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
    }
    return rc == 0 ? describe(storage) : "?"
}

func setIntOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
    var v = value
    return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
}

/// Sets SO_SNDBUF/SO_RCVBUF, bypassing net.core.[wr]mem_max with the FORCE
/// variant when running as root. The kernel doubles the value it stores.
func setBufferSize(_ fd: Int32, send: Bool, bytes: Int) {
    let force = send ? SO_SNDBUFFORCE : SO_RCVBUFFORCE
    let plain = send ? SO_SNDBUF : SO_RCVBUF
    let v = Int32(clamping: bytes)
    if !setIntOption(fd, SOL_SOCKET, force, v) && !setIntOption(fd, SOL_SOCKET, plain, v) {
        note("setting \(send ? "SO_SNDBUF" : "SO_RCVBUF") to \(bytes) failed: \(errnoText())")
    }
}

// MARK: - TCP_INFO

/// The fields of Linux `struct tcp_info` (include/uapi/linux/tcp.h) that we
/// use, read from the raw bytes at their fixed offsets. Layout checked
/// against /usr/include/linux/tcp.h (kernel 6.18 headers):
///
///   off  0  __u8  tcpi_state          (enum: 1 ESTABLISHED, 2 SYN_SENT, ...)
///   off  1  __u8  tcpi_ca_state
///   off  2  __u8  tcpi_retransmits    (current consecutive RTO count)
///   off  3  __u8  tcpi_probes
///   off  4  __u8  tcpi_backoff
///   off  5  __u8  tcpi_options
///   off  6  __u8  tcpi_snd_wscale:4, tcpi_rcv_wscale:4
///   off  7  __u8  tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2
///   off  8  __u32 tcpi_rto            (usec)
///   off 12  __u32 tcpi_ato
///   off 16  __u32 tcpi_snd_mss
///   off 20  __u32 tcpi_rcv_mss
///   off 24  __u32 tcpi_unacked        (segments sent and not yet acked)
///   off 28  __u32 tcpi_sacked
///   off 32  __u32 tcpi_lost
///   off 36  __u32 tcpi_retrans
///   off 40  __u32 tcpi_fackets
///   off 44..56    tcpi_last_data_sent, _ack_sent, _data_recv, _ack_recv
///   off 60..96    tcpi_pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh,
///                 snd_cwnd, advmss, reordering, rcv_rtt, rcv_space
///   off 100 __u32 tcpi_total_retrans  (segments retransmitted, lifetime)
///   off 104 __u64 tcpi_pacing_rate ... (not used)
///
/// Glibc's <netinet/tcp.h> has its own, older `struct tcp_info`; we do not
/// rely on it and read the bytes ourselves.
struct TCPInfo {
    static let stateOffset = 0
    static let retransmitsOffset = 2
    static let backoffOffset = 4
    static let rtoOffset = 8
    static let unackedOffset = 24
    static let totalRetransOffset = 100
    static let minimumLength = 104  // everything up to tcpi_total_retrans

    var state: Int
    var retransmits: Int
    var backoff: Int
    var rtoMicros: Int
    var unacked: Int
    var totalRetrans: Int

    static func read(_ fd: Int32) -> TCPInfo? {
        var raw = [UInt8](repeating: 0, count: 512)
        var len = socklen_t(raw.count)
        let rc = raw.withUnsafeMutableBytes { getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, $0.baseAddress, &len) }
        guard rc == 0, Int(len) >= minimumLength else { return nil }
        func u32(_ off: Int) -> Int {
            raw.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: off, as: UInt32.self)) }
        }
        return TCPInfo(state: Int(raw[stateOffset]),
                       retransmits: Int(raw[retransmitsOffset]),
                       backoff: Int(raw[backoffOffset]),
                       rtoMicros: u32(rtoOffset),
                       unacked: u32(unackedOffset),
                       totalRetrans: u32(totalRetransOffset))
    }
}

/// Bytes in the send queue not yet acknowledged by the peer (SIOCOUTQ, which
/// is TIOCOUTQ = 0x5411 for sockets: write_seq - snd_una). The kernel reads
/// this without taking the socket lock, so polling it does not make ACK
/// processing run in our process context (getsockopt(TCP_INFO) does lock).
func outputQueueBytes(_ fd: Int32) -> Int? {
    var value: Int32 = 0
    guard ioctl(fd, UInt(TIOCOUTQ), &value) == 0 else { return nil }
    return Int(value)
}

// MARK: - Time

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the probe stamps events with.
func monotonicNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var req = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var rem = timespec()
    while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
}

// MARK: - Threads

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a joinable pthread running `body`.
@discardableResult
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { arg in
        let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        body.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        fail("thread", "pthread_create failed: \(errnoText(rc))")
    }
    return tid
}

func joinThread(_ tid: pthread_t) {
    pthread_join(tid, nil)
}

/// Blocks until a line equal to "go" arrives on stdin. Returns false on EOF.
func waitForGoLine() -> Bool {
    while let line = readLine(strippingNewline: true) {
        if line.trimmingASCIIWhitespace() == "go" { return true }
        note("ignoring stdin line \"\(line)\" (waiting for \"go\")")
    }
    return false
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\r", "\n"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// A one-shot flag shared between threads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
    /// Polls every 5 ms; the lab needs no lower latency than that.
    func wait() { while !isSet { usleep(5_000) } }
}

/// A counter shared between threads.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int) { _ = value.wrappingAdd(n, ordering: .relaxed) }
    /// Adds `n` and returns the value before the addition.
    func fetchAdd(_ n: Int) -> Int { value.wrappingAdd(n, ordering: .relaxed).oldValue }
    var current: Int { value.load(ordering: .relaxed) }
}

func wallClockMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
