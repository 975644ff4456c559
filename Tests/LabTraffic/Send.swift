// `send`: one TCP connection, T writer threads, wait for every byte to be
// acknowledged, report the kernel's retransmission count for the socket.
// --cgroup GROUP moves the process into that cgroup v2 group first.
// --hand-over-after B: the process writes B bytes, waits until they are
// acknowledged (nothing in flight, so no retransmit straddles the handover),
// and forks; its child prints a "handed-over" phase line, waits for "go" on
// stdin and writes the rest on the same socket. Then two lines: the child's
// (its pid, the retransmits after the fork) and the parent's.

#if canImport(Glibc)
import Glibc
#endif

func runSend(_ args: ArraySlice<String>) -> Never {
    let role = "send"
    let opts = parseOptions(args, role: role,
                            valued: ["to", "port", "bytes", "threads", "chunk", "sndbuf", "ack-timeout", "cgroup",
                                     "hand-over-after"],
                            flags: ["prefill", "hold-until-go", "keep-open"])
    guard let host = opts.string("to") else { fail(role, "--to is required", code: 2) }
    guard let port = opts.int("port", role: role) else { fail(role, "--port is required", code: 2) }
    guard let total = opts.int("bytes", role: role), total >= 0 else { fail(role, "--bytes N (N >= 0) is required", code: 2) }
    let threads = opts.int("threads", role: role) ?? 1
    let chunk = opts.int("chunk", role: role) ?? 64 * 1024
    let ackTimeout = opts.double("ack-timeout", role: role) ?? 60
    let prefill = opts.has("prefill")
    guard threads >= 1, chunk >= 1 else { fail(role, "--threads and --chunk must be >= 1", code: 2) }
    guard let address = SocketAddress(host: host, port: port) else { fail(role, "--to: not an IP address: \(host)", code: 2) }
    signal(SIGPIPE, SIG_IGN)
    let pid = Int(getpid())
    if let cgroup = opts.string("cgroup") { joinCgroup(cgroup, role: role) }

    let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { fail(role, "socket: \(errnoText())") }
    if let sndbuf = opts.int("sndbuf", role: role) {
        setBufferSize(fd, send: true, bytes: sndbuf)
    } else if prefill {
        setBufferSize(fd, send: true, bytes: 4 * 1024 * 1024)
    }
    let connected = address.withSockaddr { connect(fd, $0, $1) }
    guard connected == 0 else { fail(role, "connect to \(host) port \(port): \(errnoText())") }
    let local = localAddress(fd)
    let remote = remoteAddress(fd)
    note("connected \(local) -> \(remote)")

    if opts.has("hold-until-go") {
        emitJSON([("role", .string(role)), ("phase", .string("connected")), ("pid", .int(pid)),
                  ("local", .string(local)), ("remote", .string(remote))])
        guard waitForGoLine() else { fail(role, "stdin closed before \"go\"") }
    }

    let written: Int
    if prefill {
        written = prefillSocket(fd, limit: total, chunk: chunk, role: role)
        // Retransmissions can happen already while prefilling, without any
        // loss: when the peer's window closes, a tail loss probe resends the
        // last segment. Report them so that "after go" can be computed.
        guard let before = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
        emitJSON([("role", .string(role)), ("phase", .string("prefilled")), ("pid", .int(pid)),
                  ("bytes_queued", .int(written)), ("total_retrans", .int(before.totalRetrans)),
                  ("local", .string(local)), ("remote", .string(remote))])
        guard waitForGoLine() else { fail(role, "stdin closed before \"go\"") }
        // A probe may retransmit again between "prefilled" and "go" (while
        // an agent starts): what the socket says at "go", and when (on the
        // probe's clock), is where a comparison starts. A retransmit runs
        // under the socket's lock, as TCP_INFO is read: the same count read
        // before and after the clock means none came between count and time.
        var goTime: Int
        var atGo: TCPInfo
        repeat {
            guard let before = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
            goTime = monotonicNanoseconds()
            guard let after = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
            atGo = after
            if before.totalRetrans == after.totalRetrans { break }
        } while true
        emitJSON([("role", .string(role)), ("phase", .string("go")), ("pid", .int(pid)),
                  ("total_retrans", .int(atGo.totalRetrans)), ("monotonic_ns", .int(goTime))])
        note("got \"go\"; no more writes, waiting for \(written) bytes to be acknowledged")
    } else if let handOver = opts.int("hand-over-after", role: role) {
        guard handOver > 0, handOver < total else { fail(role, "--hand-over-after must be between 0 and --bytes", code: 2) }
        handOverHalfway(fd, total: total, handOver: handOver, threads: threads, chunk: chunk, ackTimeout: ackTimeout,
                        local: local, remote: remote, role: role)
    } else {
        writeConcurrently(fd, total: total, threads: threads, chunk: chunk, role: role)
        written = total
    }

    waitUntilAcknowledged(fd, timeout: ackTimeout, role: role)
    guard let info = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
    emitJSON([("role", .string(role)), ("pid", .int(pid)), ("local", .string(local)), ("remote", .string(remote)),
              ("total_retrans", .int(info.totalRetrans)), ("bytes", .int(written)),
              ("threads", .int(prefill ? 0 : threads))])
    if opts.has("keep-open") {
        // Keep the connection until "go" (or stdin EOF), e.g. so a test can
        // look at a live socket after the transfer.
        _ = waitForGoLine()
    }
    close(fd)
    exit(0)
}

/// `--hand-over-after`: the parent's share, then the child's; see the top.
private func handOverHalfway(_ fd: Int32, total: Int, handOver: Int, threads: Int, chunk: Int, ackTimeout: Double,
                             local: String, remote: String, role: String) -> Never {
    writeConcurrently(fd, total: handOver, threads: threads, chunk: chunk, role: role)
    waitUntilAcknowledged(fd, timeout: ackTimeout, role: role)
    guard let atHandOver = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
    let parent = Int(getpid())
    let child = fork()
    guard child >= 0 else { fail(role, "fork: \(errnoText())") }
    if child == 0 {
        emitJSON([("role", .string(role)), ("phase", .string("handed-over")), ("pid", .int(Int(getpid())))])
        guard waitForGoLine() else { fail(role, "stdin closed before \"go\"") }
        writeConcurrently(fd, total: total - handOver, threads: threads, chunk: chunk, role: role)
        waitUntilAcknowledged(fd, timeout: ackTimeout, role: role)
        guard let info = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
        emitJSON([("role", .string(role)), ("pid", .int(Int(getpid()))), ("local", .string(local)),
                  ("remote", .string(remote)), ("total_retrans", .int(info.totalRetrans - atHandOver.totalRetrans)),
                  ("bytes", .int(total - handOver)), ("handed_over_by", .int(parent))])
        exit(0)
    }
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 {
        guard errno == EINTR else { fail(role, "waitpid: \(errnoText())") }
    }
    guard status == 0 else { fail(role, "the child writing after the handover failed (status \(status))") }
    emitJSON([("role", .string(role)), ("pid", .int(parent)), ("local", .string(local)), ("remote", .string(remote)),
              ("total_retrans", .int(atHandOver.totalRetrans)), ("bytes", .int(handOver)),
              ("handed_over_to", .int(Int(child)))])
    close(fd)
    exit(0)
}

/// T threads write to the same socket until exactly `total` bytes are
/// written. Each thread reserves a chunk from a shared counter first.
private func writeConcurrently(_ fd: Int32, total: Int, threads: Int, chunk: Int, role: String) {
    let reserved = Counter()
    let failed = Flag()
    var tids: [pthread_t] = []
    for _ in 0..<threads {
        tids.append(startThread {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0x61, count: chunk)
            while !failed.isSet {
                let start = reserved.fetchAdd(chunk)
                if start >= total { break }
                var remaining = min(chunk, total - start)
                while remaining > 0 {
                    let n = send(fd, buffer, remaining, Int32(MSG_NOSIGNAL))
                    if n > 0 { remaining -= n; continue }
                    if n < 0 && errno == EINTR { continue }
                    note("send: \(n < 0 ? errnoText() : "wrote 0 bytes")")
                    failed.set()
                    return
                }
            }
        })
    }
    tids.forEach(joinThread)
    if failed.isSet { fail(role, "writing to the socket failed") }
}

/// Writes without blocking until the socket refuses more (the send buffer and
/// the peer's window are full) or `limit` bytes are queued. Returns the count.
private func prefillSocket(_ fd: Int32, limit: Int, chunk: Int, role: String) -> Int {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0x62, count: chunk)
    var queued = 0
    var idleRounds = 0
    while queued < limit {
        let n = send(fd, buffer, min(chunk, limit - queued), Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        if n > 0 { queued += n; idleRounds = 0; continue }
        if n < 0 && errno == EINTR { continue }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            // Full for now; ACKs still in flight may free some space. Stop
            // when it stays full for three rounds of 50 ms.
            idleRounds += 1
            if idleRounds >= 3 { break }
            sleepSeconds(0.05)
            continue
        }
        fail(role, "send (prefill): \(n < 0 ? errnoText() : "wrote 0 bytes")")
    }
    note("prefilled \(queued) bytes")
    return queued
}

/// Waits until every byte written is acknowledged: SIOCOUTQ == 0 (polled,
/// lock-free in the kernel) and then tcpi_unacked == 0 (one getsockopt).
private func waitUntilAcknowledged(_ fd: Int32, timeout: Double, role: String) {
    let deadline = monotonicSeconds() + timeout
    while true {
        guard let outq = outputQueueBytes(fd) else { fail(role, "ioctl SIOCOUTQ: \(errnoText())") }
        if outq == 0 {
            guard let info = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
            if info.unacked == 0 { return }
        }
        if monotonicSeconds() > deadline {
            let info = TCPInfo.read(fd)
            fail(role, "not all data acknowledged after \(timeout) s: outq=\(outq) unacked=\(info?.unacked ?? -1) total_retrans=\(info?.totalRetrans ?? -1) state=\(info?.state ?? -1)")
        }
        sleepSeconds(0.005)
    }
}
