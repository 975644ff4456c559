// The live benchmark's tools (benchmarks/live runs them; not shipped):
//
//   ark-probe-live-bench drive --seconds S [--rate N] [--agent-pid PID]
//                              [--wait-for-go]
//       Issues getppid() N times a second (0 or absent: flat out) for S
//       seconds. With --agent-pid, first loads the event source
//       (live_source.bpf.c) into that running `ark-probe run`'s ring buffer,
//       so every call becomes a transport retransmit record of this process.
//       With --wait-for-go, waits for SIGUSR1 first (to let bpftrace attach).
//       Exits one second after the last call, so that the consumer's CPU time
//       taken when it exits includes the tail. Prints one JSON line: calls
//       issued, rate, its own CPU time, and the increase of the agent's
//       lost-record counter.
//
//   ark-probe-live-bench floor [--programs NAME,NAME...]
//       Attaches programs that do nothing (empty_*, live_source.bpf.c) to
//       the hooks of the probe's costliest programs (and one that only
//       reserves and discards a ring record), or only those named, prints
//       "ready" and holds them until stdin closes: benchmarks/kernel-cost
//       measures them under the agent's loads, the floor of a hook's cost
//       on this machine.
//
//   ark-probe-live-bench read --format agent|bpftrace [--ready-file PATH]
//       Reads the consumer's output on stdin; for every line of the source,
//       the latency from the kernel timestamp in the line (ktime_ns, or the
//       last number of a bpftrace line) to the moment read() returned it.
//       Creates PATH once the consumer has started. At end of input prints
//       one JSON line: lines delivered, latency percentiles, loss reported.
import CLibBPF
import KernelProbe
#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to stderr and exits: this is a command-line tool.
func fail(_ message: String) -> Never {
    let text = "ark-probe-live-bench: \(message)\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(1)
}

func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// The whole of a small file, or nil.
func readSmallFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(descriptor, &chunk, chunk.count)
        if count <= 0 { return count == 0 ? bytes : nil }
        bytes += chunk[0..<count]
    }
}

/// Names in a directory (without . and ..).
func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

// MARK: - drive

/// The agent's maps the source writes to, found among its descriptors.
struct AgentMaps {
    var ring: Int32 = -1
    var reservationFailures: Int32 = -1
    var reader: Int32 = -1

    init(agent pid: Int32) {
        for descriptor in directoryEntries("/proc/\(pid)/fdinfo") {
            guard let info = readSmallFile("/proc/\(pid)/fdinfo/\(descriptor)") else { continue }
            let text = String(decoding: info, as: UTF8.self)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("map_id:") }),
                  let id = UInt32(line.dropFirst("map_id:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }))
            else { continue }
            let mapDescriptor = bpf_map_get_fd_by_id(id)
            guard mapDescriptor >= 0 else { continue }
            var mapInfo = bpf_map_info()
            var length = UInt32(MemoryLayout<bpf_map_info>.size)
            guard bpf_obj_get_info_by_fd(mapDescriptor, &mapInfo, &length) == 0 else { close(mapDescriptor); continue }
            let name = withUnsafeBytes(of: mapInfo.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            // Kernel map names keep 15 characters.
            if name == "ark_records" && ring < 0 {
                ring = mapDescriptor
            } else if "ring_reservation_failures".hasPrefix(name) && name.count >= 10 && reservationFailures < 0 {
                reservationFailures = mapDescriptor
            } else if name == "ring_reader" && reader < 0 {
                reader = mapDescriptor
            } else {
                close(mapDescriptor)
            }
        }
    }

    /// The agent's lost-record counter: the per-CPU values summed.
    func lostRecords() -> UInt64 {
        var values = [UInt64](repeating: 0, count: Int(libbpf_num_possible_cpus()))
        var key: UInt32 = 0
        guard bpf_map_lookup_elem(reservationFailures, &key, &values) == 0 else { fail("cannot read the agent's loss counter: errno \(errno)") }
        return values.reduce(0, &+)
    }
}

/// The event source, loaded and attached; detached when released.
final class EventSource {
    private let object: OpaquePointer
    private let link: OpaquePointer
    private let image: [UInt8]

    init(maps: AgentMaps, sourceProcess: UInt32, syscall: UInt32) {
        guard let image = embeddedProbeObjectBase64.withUTF8Buffer({ Base64.decode($0) }) else {
            fail("the embedded event source is not valid base64")
        }
        self.image = image
        var options = bpf_object_open_opts()
        options.sz = MemoryLayout<bpf_object_open_opts>.size
        guard let object = image.withUnsafeBytes({ bpf_object__open_mem($0.baseAddress, $0.count, &options) }) else {
            fail("cannot open the event source object: errno \(errno)")
        }
        self.object = object
        guard let configuration = bpf_object__find_map_by_name(object, ".rodata") else { fail("the event source has no .rodata") }
        var size = 0
        guard let value = bpf_map__initial_value(configuration, &size), size >= 8 else { fail("the event source's .rodata is too small") }
        // libbpf lets the initial value be changed until load.
        let initial = UnsafeMutableRawPointer(mutating: value)
        initial.storeBytes(of: sourceProcess, as: UInt32.self)
        initial.storeBytes(of: syscall, toByteOffset: 4, as: UInt32.self)
        for (name, descriptor) in [
            ("ark_records", maps.ring), ("ring_reservation_failures", maps.reservationFailures), ("ring_reader", maps.reader),
        ] {
            guard let map = bpf_object__find_map_by_name(object, name), bpf_map__reuse_fd(map, descriptor) == 0 else {
                fail("cannot point the event source's \(name) at the agent's")
            }
        }
        let loaded = bpf_object__load(object)
        guard loaded == 0 else { fail("the kernel rejected the event source: \(String(cString: strerror(-loaded)))") }
        guard let program = bpf_object__find_program_by_name(object, "bench_source"),
              let link = bpf_program__attach(program) else {
            fail("cannot attach the event source to tp_btf/sys_enter: errno \(errno)")
        }
        self.link = link
    }

    deinit {
        bpf_link__destroy(link)
        bpf_object__close(object)
    }
}

/// The empty programs attached (see `floor`), all or those `named`;
/// detached at exit.
func holdEmptyPrograms(named: Set<String>?) {
    guard let image = embeddedProbeObjectBase64.withUTF8Buffer({ Base64.decode($0) }) else {
        fail("the embedded event source is not valid base64")
    }
    var options = bpf_object_open_opts()
    options.sz = MemoryLayout<bpf_object_open_opts>.size
    guard let object = image.withUnsafeBytes({ bpf_object__open_mem($0.baseAddress, $0.count, &options) }) else {
        fail("cannot open the benchmark object: errno \(errno)")
    }
    var program = bpf_object__next_program(object, nil)
    while let current = program {
        let name = String(cString: bpf_program__name(current))
        bpf_program__set_autoload(current, name.hasPrefix("empty_") && named.map { $0.contains(name) } ?? true)
        program = bpf_object__next_program(object, current)
    }
    let loaded = bpf_object__load(object)
    guard loaded == 0 else { fail("the kernel rejected the empty programs: \(String(cString: strerror(-loaded)))") }
    var links: [OpaquePointer] = []
    program = bpf_object__next_program(object, nil)
    while let current = program {
        if bpf_program__autoload(current) {
            guard let link = bpf_program__attach(current) else {
                fail("cannot attach \(String(cString: bpf_program__name(current))): errno \(errno)")
            }
            links.append(link)
        }
        program = bpf_object__next_program(object, current)
    }
    if let named, links.count != named.count {
        fail("--programs: not each of \(named.sorted().joined(separator: ", ")) is a program of the floor (empty_*)")
    }
    _ = write(STDOUT_FILENO, "ready\n", 6)
    var byte: UInt8 = 0
    while read(STDIN_FILENO, &byte, 1) > 0 {}
    links.forEach { bpf_link__destroy($0) }
    bpf_object__close(object)
}

#if arch(x86_64)
let getppidSyscall: UInt32 = 110
#elseif arch(arm64)
let getppidSyscall: UInt32 = 173
#endif

func drive(_ arguments: [String: String], flags: Set<String>) {
    guard let seconds = arguments["--seconds"].flatMap(Double.init), seconds > 0 else { fail("drive needs --seconds S") }
    let rate = arguments["--rate"].flatMap(Double.init) ?? 0
    let agent = arguments["--agent-pid"].flatMap { Int32($0) }
    // The name the agent's lines carry (comm) and bpftrace's filter sees.
    _ = "ark-bench-drive".withCString { name in
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        defer { if descriptor >= 0 { close(descriptor) } }
        return write(descriptor, name, strlen(name))
    }
    var maps: AgentMaps?
    if let agent {
        let found = AgentMaps(agent: agent)
        guard found.ring >= 0, found.reservationFailures >= 0, found.reader >= 0 else {
            fail("process \(agent) holds no ark_records ring buffer: is it `ark-probe run`?")
        }
        maps = found
    }
    let source = maps.map { EventSource(maps: $0, sourceProcess: UInt32(getpid()), syscall: getppidSyscall) }
    if flags.contains("--wait-for-go") {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGUSR1)
        sigprocmask(SIG_BLOCK, &set, nil)
        _ = write(STDOUT_FILENO, "ready\n", 6)
        var received: Int32 = 0
        sigwait(&set, &received)
    }
    let lostBefore = maps?.lostRecords() ?? 0
    var usageBefore = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usageBefore)
    let start = monotonicNanoseconds()
    let end = start + UInt64(seconds * 1e9)
    var issued: UInt64 = 0
    while true {
        let now = monotonicNanoseconds()
        if now >= end { break }
        if rate <= 0 {
            for _ in 0..<256 { _ = getppid() }
            issued += 256
            continue
        }
        // Catch up with the schedule, then sleep until the next call is due.
        let due = UInt64(Double(now - start) * rate / 1e9) + 1
        while issued < due {
            _ = getppid()
            issued += 1
        }
        let next = start + UInt64(Double(issued) * 1e9 / rate)
        if next > now + 20_000 {
            var until = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil)
        }
    }
    let elapsed = Double(monotonicNanoseconds() - start) / 1e9
    var usageAfter = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usageAfter)
    // Let the consumer finish what it was sent (it is measured until we exit).
    var pause = timespec(tv_sec: 1, tv_nsec: 0)
    nanosleep(&pause, nil)
    let lost = (maps?.lostRecords() ?? 0) - lostBefore
    withExtendedLifetime(source) {}
    func microseconds(_ time: timeval) -> Int { time.tv_sec * 1_000_000 + time.tv_usec }
    let driverCPU = microseconds(usageAfter.ru_utime) + microseconds(usageAfter.ru_stime)
        - microseconds(usageBefore.ru_utime) - microseconds(usageBefore.ru_stime)
    print("{\"issued\":\(issued),\"seconds\":\(elapsed),\"rate\":\(Int(Double(issued) / elapsed)),"
          + "\"driver_cpu_us\":\(driverCPU)"
          + (agent != nil ? ",\"lost\":\(lost)" : "") + "}")
}

// MARK: - read

/// Where `needle` starts in `line`, searching from `from` for at most
/// `within` bytes; the reader must stay far cheaper than the agent.
func find(_ needle: [UInt8], in line: UnsafeBufferPointer<UInt8>, from: Int = 0, within: Int = .max) -> Int? {
    let end = within >= line.count - from ? line.count : from + within
    guard from + needle.count <= end else { return nil }
    var index = from
    while index + needle.count <= end {
        if line[index] == needle[0] {
            var offset = 1
            while offset < needle.count && line[index + offset] == needle[offset] { offset += 1 }
            if offset == needle.count { return index }
        }
        index += 1
    }
    return nil
}

/// The decimal number at `index` (skipping one opening quote), or nil.
func number(in line: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt64? {
    var index = start
    if index < line.count && line[index] == UInt8(ascii: "\"") { index += 1 }
    var value: UInt64 = 0
    var digits = 0
    while index < line.count, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
        value = value * 10 + UInt64(line[index] - UInt8(ascii: "0"))
        index += 1
        digits += 1
    }
    return digits > 0 ? value : nil
}

func readOutput(_ arguments: [String: String]) {
    let bpftrace: Bool
    switch arguments["--format"] {
    case "agent": bpftrace = false
    case "bpftrace": bpftrace = true
    default: fail("read needs --format agent|bpftrace")
    }
    let readyFile = arguments["--ready-file"]
    let sourceMarker = Array(bpftrace ? "ark-bench-drive ".utf8 : "\"event_type\":\"transport.drop\"".utf8)
    let commMarker = Array("\"comm\":\"ark-bench-drive\"".utf8)
    let ktimeKey = Array("\"ktime_ns\":".utf8)
    let startedMarker = Array(bpftrace ? "Attaching ".utf8 : "\"event_type\":\"probe.started\"".utf8)
    let lossMarker = Array(bpftrace ? "Lost ".utf8 : "\"event_type\":\"probe.loss\"".utf8)
    let valueKey = Array("\"value\":".utf8)

    var latencies: [UInt64] = []
    latencies.reserveCapacity(1 << 22)
    var delivered: UInt64 = 0
    var otherLines: UInt64 = 0
    var lossLines: UInt64 = 0
    var lostReported: UInt64 = 0
    var started = false
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var pending = 0

    func handle(_ line: UnsafeBufferPointer<UInt8>, readAt: UInt64) {
        // Agent lines start {"ts":…,"event_type":…; bpftrace's with the comm.
        if let at = find(sourceMarker, in: line, within: bpftrace ? sourceMarker.count : 64) {
            if bpftrace {
                // "ark-bench-drive PID NSECS": the kernel time is the last number.
                var index = line.count
                while index > 0 && line[index - 1] >= UInt8(ascii: "0") && line[index - 1] <= UInt8(ascii: "9") { index -= 1 }
                if let ktime = number(in: line, at: index) {
                    delivered += 1
                    latencies.append(readAt &- ktime)
                }
                return
            }
            // ktime_ns is the last field of an event line.
            if find(commMarker, in: line, from: at, within: 400) != nil, let key = find(ktimeKey, in: line, from: max(at, line.count - 48)),
               let ktime = number(in: line, at: key + ktimeKey.count) {
                delivered += 1
                latencies.append(readAt &- ktime)
                return
            }
        }
        if let at = find(lossMarker, in: line, within: 64) {
            lossLines += 1
            if bpftrace {
                lostReported += number(in: line, at: at + lossMarker.count) ?? 0
            } else if let key = find(valueKey, in: line, from: at) {
                lostReported += number(in: line, at: key + valueKey.count) ?? 0
            }
            return
        }
        if !started, find(startedMarker, in: line, within: 64) != nil {
            started = true
            if let readyFile {
                let descriptor = open(readyFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if descriptor >= 0 {
                    _ = write(descriptor, "started\n", 8)
                    close(descriptor)
                }
            }
        }
        otherLines += 1
    }

    // A roomy pipe: the consumer must not stall on a reader that is late
    // for a moment (F_SETPIPE_SZ; fails harmlessly on a file).
    _ = fcntl(STDIN_FILENO, 1031, Int32(1 << 20))
    while true {
        if pending == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
        let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress! + pending, $0.count - pending) }
        let readAt = monotonicNanoseconds()
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        let filled = pending + count
        var consumed = 0
        buffer.withUnsafeBufferPointer { bytes in
            var start = 0
            for index in pending..<filled where bytes[index] == UInt8(ascii: "\n") {
                handle(UnsafeBufferPointer(rebasing: bytes[start..<index]), readAt: readAt)
                start = index + 1
            }
            consumed = start
        }
        pending = filled - consumed
        if consumed > 0 && pending > 0 {
            buffer.withUnsafeMutableBytes { bytes in
                _ = memmove(bytes.baseAddress!, bytes.baseAddress! + consumed, pending)
            }
        }
    }

    latencies.sort()
    func percentile(_ fraction: Double) -> String {
        guard !latencies.isEmpty else { return "null" }
        let index = min(latencies.count - 1, Int(Double(latencies.count) * fraction))
        return String(Double(latencies[index] / 100) / 10)
    }
    print("{\"delivered\":\(delivered),\"p50_us\":\(percentile(0.5)),\"p99_us\":\(percentile(0.99)),"
          + "\"p999_us\":\(percentile(0.999)),\"max_us\":\(percentile(1)),\"loss_lines\":\(lossLines),"
          + "\"lost_reported\":\(lostReported),\"other_lines\":\(otherLines),\"started\":\(started)}")
}

// MARK: - main

var options: [String: String] = [:]
var flags: Set<String> = []
var rest = CommandLine.arguments.dropFirst(2)
while let argument = rest.popFirst() {
    if argument == "--wait-for-go" {
        flags.insert(argument)
    } else if argument.hasPrefix("--"), let value = rest.popFirst() {
        options[argument] = value
    } else {
        fail("unexpected argument \(argument)")
    }
}
switch CommandLine.arguments.dropFirst().first {
case "drive": drive(options, flags: flags)
case "read": readOutput(options)
case "floor": holdEmptyPrograms(named: options["--programs"].map { Set($0.split(separator: ",").map(String.init)) })
default: fail("usage: ark-probe-live-bench drive|read|floor [options] (see benchmarks/LiveBenchmark/main.swift)")
}
