// `train`: a training-like loop over one connection: send a chunk, wait
// for the receiver's one-byte acknowledgement (sink --ack-every CHUNK),
// repeat for S seconds. A collective operation stalls the same way when the
// fabric drops packets. --compute-ms MS sleeps that long before each send,
// as a rank computes before its all-reduce. --congestion NAME picks the
// socket's congestion control (TCP_CONGESTION). With --report-every MS it prints its progress (steps
// so far, at wall-clock milliseconds) after the first step that ends at least
// MS after the last report: a stalled worker goes quiet, as its rate does.
// Under `launch`: --barrier-fds R,W waits for the other ranks after each
// step (write a byte to W, read one from R), and --cgroup GROUP moves the
// rank into that cgroup v2 group (a path from the hierarchy's root) before
// it connects.

#if canImport(Glibc)
import Glibc
#endif

func runTrain(_ args: ArraySlice<String>) -> Never {
    let role = "train"
    let opts = parseOptions(args, role: role, valued: ["to", "port", "chunk", "seconds", "report-every", "compute-ms", "congestion",
                                                              "barrier-fds", "cgroup"], flags: [])
    guard let host = opts.string("to") else { fail(role, "--to is required", code: 2) }
    guard let port = opts.int("port", role: role) else { fail(role, "--port is required", code: 2) }
    guard let chunk = opts.int("chunk", role: role), chunk > 0 else { fail(role, "--chunk BYTES is required", code: 2) }
    guard let seconds = opts.double("seconds", role: role), seconds > 0 else { fail(role, "--seconds S is required", code: 2) }
    let reportEvery = opts.double("report-every", role: role).map { $0 / 1000 }
    let compute = opts.double("compute-ms", role: role).map { $0 / 1000 } ?? 0
    guard let address = SocketAddress(host: host, port: port) else { fail(role, "--to: not an IP address: \(host)", code: 2) }
    signal(SIGPIPE, SIG_IGN)
    var barrier: (go: Int32, arrived: Int32)?
    if let fds = opts.string("barrier-fds") {
        let parts = fds.split(separator: ",").compactMap { Int32($0) }
        guard parts.count == 2 else { fail(role, "--barrier-fds R,W", code: 2) }
        barrier = (parts[0], parts[1])
    }
    if let cgroup = opts.string("cgroup") { joinCgroup(cgroup, role: role) }

    let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { fail(role, "socket: \(errnoText())") }
    if let congestion = opts.string("congestion") {
        let set = congestion.withCString { setsockopt(fd, Int32(IPPROTO_TCP), 13 /* TCP_CONGESTION */, $0, socklen_t(strlen($0))) }
        guard set == 0 else { fail(role, "TCP_CONGESTION \(congestion): \(errnoText())", code: 2) }
    }
    let connected = address.withSockaddr { connect(fd, $0, $1) }
    guard connected == 0 else { fail(role, "connect to \(host) port \(port): \(errnoText())") }
    let pid = Int(getpid())
    let rank = getenv("RANK").map { String(cString: $0) } ?? getenv("SLURM_PROCID").map { String(cString: $0) } ?? ""
    emitJSON([("role", .string(role)), ("phase", .string("connected")), ("pid", .int(pid)),
              ("local", .string(localAddress(fd))), ("rank", .string(rank))])

    let payload = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
    defer { payload.deallocate() }
    memset(payload, 0x5a, chunk)
    let start = monotonicSeconds()
    var steps = 0
    var longestStep = 0.0
    var nextReport = start
    while monotonicSeconds() - start < seconds {
        let stepStart = monotonicSeconds()
        sleepSeconds(compute)
        var sent = 0
        while sent < chunk {
            let n = send(fd, payload + sent, chunk - sent, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { fail(role, "send: \(errnoText())") }
            sent += n
        }
        var ack: UInt8 = 0
        while true {
            let n = recv(fd, &ack, 1, 0)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { fail(role, "waiting for the acknowledgement: \(n == 0 ? "connection closed" : errnoText())") }
            break
        }
        if let barrier {
            var byte: UInt8 = 1
            guard write(barrier.arrived, &byte, 1) == 1 else { break }
            var n = 0
            repeat { n = read(barrier.go, &byte, 1) } while n < 0 && errno == EINTR
            // The launcher ended the job (another rank finished).
            if n != 1 { break }
        }
        steps += 1
        let stepEnd = monotonicSeconds()
        longestStep = max(longestStep, stepEnd - stepStart)
        if let reportEvery, stepEnd >= nextReport {
            emitJSON([("role", .string(role)), ("pid", .int(pid)), ("progress", .int(steps)), ("at_ms", .int(wallClockMilliseconds()))])
            nextReport = stepEnd + reportEvery
        }
    }
    guard let info = TCPInfo.read(fd) else { fail(role, "getsockopt TCP_INFO: \(errnoText())") }
    emitJSON([("role", .string(role)), ("pid", .int(pid)), ("steps", .int(steps)),
              ("longest_step_ms", .int(Int(longestStep * 1000))), ("total_retrans", .int(info.totalRetrans))])
    close(fd)
    exit(0)
}

/// Moves the calling process into cgroup v2 group `cgroup` (a path from
/// the hierarchy's root).
func joinCgroup(_ cgroup: String, role: String) {
    let path = cgroup2Mount(role: role) + cgroup + "/cgroup.procs"
    let procs = open(path, O_WRONLY | O_CLOEXEC)
    guard procs >= 0 else { fail(role, "\(path): \(errnoText())") }
    let pidText = Array("\(getpid())\n".utf8)
    guard write(procs, pidText, pidText.count) == pidText.count else { fail(role, "moving into \(cgroup): \(errnoText())") }
    close(procs)
}

/// Where the cgroup v2 hierarchy is mounted. `ip netns exec` gives the
/// process a mount namespace with a fresh /sys and no cgroup mount: there
/// it mounts the hierarchy itself, which only that namespace sees.
func cgroup2Mount(role: String) -> String {
    if let descriptor = fopen("/proc/self/mountinfo", "r") {
        defer { fclose(descriptor) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, descriptor) > 0, let line {
            let fields = String(cString: line).split(separator: " ")
            if let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2" {
                return String(fields[4])
            }
        }
    }
    guard mount("none", "/sys/fs/cgroup", "cgroup2", 0, nil) == 0 else {
        fail(role, "no cgroup v2 mount, and mounting one at /sys/fs/cgroup failed: \(errnoText())")
    }
    return "/sys/fs/cgroup"
}
