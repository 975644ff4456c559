// Pipeline throughput: a large synthetic trace of kernel records, generated
// in memory (never committed), replayed on one core through decode → totals
// → event line → graph → shipped rules → JSONL written to a file descriptor.
//
// usage: ark-probe-pipeline-bench [--events N] [--runs R] [--output FILE] [--identities]
//        ark-probe-pipeline-bench --events N --write-trace FILE
// Prints one JSON line: best and median events/s over the runs. The default
// output is /dev/null (write(2) calls, no disk). --write-trace writes the
// trace as JSONL (a probe.started line and the event lines) for timing
// `ark-probe replay`. --identities gives every process an identity first,
// as a Kubernetes training node would (job, rank, pod, container, cgroup
// path on every line). Under callgrind, count only the replay:
//   valgrind --tool=callgrind --toggle-collect='*replayTrace*' ... --runs 1
import Agent
import CArkProbeRecords
import ProbeEvents
import RuleEngine
import RuleLanguage
import WorkloadIdentity
#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var events = 2_000_000
    var runs = 5
    var outputPath = "/dev/null"
    var tracePath: String?
    var identities = false

    init(_ arguments: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--events": events = Int(value()) ?? events
            case "--runs": runs = max(1, Int(value()) ?? runs)
            case "--output": outputPath = value()
            case "--write-trace": tracePath = value()
            case "--identities": identities = true
            default:
                // The old form: a bare event count.
                guard let count = Int(arguments[index]) else { fail("unknown argument \(arguments[index])") }
                events = count
            }
            index += 1
        }
    }
}

func fail(_ message: String) -> Never {
    let text = "ark-probe-pipeline-bench: \(message)\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}

/// Deterministic pseudo-random numbers (a 64-bit LCG, high bits used).
struct Random {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 16
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// Skewed towards 0: a few hot connections carry most of the events.
    mutating func skewed(_ bound: Int) -> Int { Int(UInt64(below(bound)) * UInt64(below(bound)) / UInt64(bound)) }

    mutating func percent() -> Int { below(100) }
}

/// A node under network trouble: 256 processes with 8 connections each to
/// 96 peers (a quarter IPv6), churning; connections drift between
/// congestion states, some into RTO backoff. Per 100 records: ~62 sent
/// retransmits of every cause, 3 failed ones, 15 congestion-state changes,
/// 10 drops (half without a socket or owner), a few without an owner, and
/// one process exit in ~2,000. Event time advances 4 µs per record on
/// average (250k records/s of event time: a tick every ~62,500 records).
struct TraceGenerator {
    struct Flow {
        var cookie: UInt64
        var pid: UInt32
        var local: [UInt8]
        var remote: [UInt8]
        var localPort: UInt16
        var remotePort: UInt16
        var family: UInt16
        var caState: UInt8 = 0
        var backoff: UInt8 = 0
    }

    struct Process {
        var pid: UInt32
        var uid: UInt32
        var cgroupID: UInt64
        var comm: [UInt8]
    }

    static let processCount = 256
    static let flowsPerProcess = 8
    static let peerCount = 96
    static let commands = ["python3", "torchrun", "nccl-proxy", "envoy", "redis-server", "java", "postgres",
                           "node", "grpc-worker", "etcd", "kubelet", "nginx: worker", "pt_data_worker", "containerd"]
    static let dropReasons: [UInt32] = [2, 5, 12, 16, 77, 999]

    var random = Random()
    var processes: [Process] = []
    var flows: [Flow] = []
    var nextPid: UInt32 = 2000
    var nextCookie: UInt64 = 40_000
    var time: UInt64 = 1_000_000_000

    init() {
        for slot in 0..<Self.processCount {
            processes.append(newProcess())
            for _ in 0..<Self.flowsPerProcess { flows.append(newFlow(of: slot)) }
        }
    }

    mutating func newProcess() -> Process {
        nextPid += UInt32(1 + random.below(7))
        return Process(pid: nextPid, uid: random.percent() < 70 ? 1000 : 0, cgroupID: 5000 + UInt64(random.below(40)),
                       comm: Array(Self.commands[random.below(Self.commands.count)].utf8))
    }

    mutating func newFlow(of slot: Int) -> Flow {
        nextCookie += 1
        let peer = random.below(Self.peerCount)
        let ipv6 = peer % 4 == 3
        let local: [UInt8] = ipv6 ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
            : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]
        let remote: [UInt8] = ipv6 ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(peer / 256), UInt8(peer % 256)]
            : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, UInt8(peer / 16), UInt8(peer % 16), UInt8(2 + peer)]
        return Flow(cookie: nextCookie, pid: processes[slot].pid, local: local, remote: remote,
                    localPort: UInt16(32768 + random.below(28000)), remotePort: [29500, 443, 6379, 5432, 2379][peer % 5],
                    family: ipv6 ? 10 : 2)
    }

    mutating func next() -> ark_record {
        var record = ark_record()
        time += UInt64(1 + random.below(7_000))
        record.ktime_ns = time
        let roll = random.percent()
        if roll == 0 && random.below(20) == 0 {
            processExit(into: &record)
            return record
        }
        let index = random.skewed(flows.count)
        let slot = index / Self.flowsPerProcess
        if random.below(500) == 0 { flows[index] = newFlow(of: slot) }  // connection churn
        var flow = flows[index]
        fill(&record, flow: flow, process: processes[slot])
        switch roll {
        case 0..<62: retransmit(&record, flow: &flow, failed: false)
        case 62..<65: retransmit(&record, flow: &flow, failed: true)
        case 65..<80: congestionChange(&record, flow: &flow)
        case 80..<90: drop(&record)
        default:
            // A retransmit the probe could not attribute (no owner known).
            retransmit(&record, flow: &flow, failed: false)
            record.owner = ark_owner()
        }
        flows[index] = flow
        return record
    }

    private mutating func fill(_ record: inout ark_record, flow: Flow, process: Process) {
        record.socket_cookie = flow.cookie
        record.netns = 4026531840
        record.socket_cgroup_id = process.cgroupID
        record.owner.tgid = process.pid
        record.owner.tid = process.pid + UInt32(random.below(4))
        record.owner.uid = process.uid
        record.owner.source = random.percent() < 90 ? 1 : 2
        record.owner.cgroup_id = process.cgroupID
        withUnsafeMutableBytes(of: &record.owner.comm) { $0.copyBytes(from: process.comm) }
        withUnsafeMutableBytes(of: &record.flow.saddr) { $0.copyBytes(from: flow.local) }
        withUnsafeMutableBytes(of: &record.flow.daddr) { $0.copyBytes(from: flow.remote) }
        record.flow.sport = flow.localPort
        record.flow.dport = flow.remotePort
        record.flow.family = flow.family
        record.flow.tcp_state = 1
        record.ca_state = flow.caState
        record.backoff = flow.backoff
    }

    private mutating func retransmit(_ record: inout ark_record, flow: inout Flow, failed: Bool) {
        record.kind = 1
        record.segments = UInt32(1 + random.skewed(8))
        let roll = random.percent()
        switch roll {
        case 0..<60:
            record.cause = 2  // fast
            flow.caState = 3
            flow.backoff = 0
        case 60..<78:
            record.cause = 1  // rto
            flow.caState = 4
            flow.backoff = min(flow.backoff + 1, 7)
        case 78..<90: record.cause = 3  // tlp
        case 90..<94: record.cause = 6  // other
        case 94..<96:
            record.cause = 4  // syn
            record.flow.tcp_state = 2
        case 96..<98:
            record.kind = 2
            record.cause = 5  // synack
            record.flow.tcp_state = 3
        default: record.cause = 0
        }
        record.ca_state = flow.caState
        record.backoff = flow.backoff
        if failed { record.error = [-16, -105, -12, -113, -7][random.below(5)] }
    }

    private mutating func congestionChange(_ record: inout ark_record, flow: inout Flow) {
        record.kind = 3
        record.old_ca_state = flow.caState
        var next = UInt8(random.below(5))
        if next == flow.caState { next = (next + 1) % 5 }
        flow.caState = next
        if next == 0 { flow.backoff = 0 }
        record.ca_state = next
        record.backoff = flow.backoff
    }

    private mutating func drop(_ record: inout ark_record) {
        record.kind = 4
        record.drop_reason = Self.dropReasons[random.skewed(Self.dropReasons.count)]
        if random.percent() < 50 {
            // An incoming packet for no socket: no cookie, no owner.
            record.socket_cookie = 0
            record.socket_cgroup_id = 0
            record.owner = ark_owner()
            record.flow.tcp_state = 0
        }
    }

    private mutating func processExit(into record: inout ark_record) {
        let slot = random.below(processes.count)
        let process = processes[slot]
        record.kind = 5
        record.owner.tgid = process.pid
        record.owner.tid = process.pid
        record.owner.uid = process.uid
        record.owner.cgroup_id = process.cgroupID
        record.owner.source = 1
        withUnsafeMutableBytes(of: &record.owner.comm) { $0.copyBytes(from: process.comm) }
        record.drop_reason = random.percent() < 80 ? 0 : 9
        processes[slot] = newProcess()
        for offset in 0..<Self.flowsPerProcess {
            flows[slot * Self.flowsPerProcess + offset] = newFlow(of: slot)
        }
    }
}

func makeRecords(_ count: Int) -> [ark_record] {
    var generator = TraceGenerator()
    var records: [ark_record] = []
    records.reserveCapacity(count)
    for _ in 0..<count { records.append(generator.next()) }
    return records
}

let clock = WallClock(offsetNanoseconds: 1_700_000_000_000_000_000)
let dropReasonNames: [UInt32: String] = [2: "NOT_SPECIFIED", 5: "TCP_CSUM", 12: "NETFILTER_DROP",
                                         16: "SOCKET_RCVBUFF", 77: "TCP_OLD_DATA"]

struct RunResult {
    var seconds: Double
    var outputBytes: Int
    var alerts: UInt64
    var events: UInt64
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The measured part: decode every record, run it through the pipeline,
/// write the JSONL in 64 KiB batches as the agent does. Not inlined, so
/// callgrind can count it alone (--toggle-collect='*replayTrace*').
@inline(never)
func replayTrace(_ records: UnsafeBufferPointer<ark_record>, through pipeline: Pipeline,
                 to output: LineOutput) throws(LineOutput.Failure) -> Int {
    var bytes = 0
    var event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0)
    for index in records.indices {
        if ProbeEvent.decode(records.baseAddress! + index, into: &event) { pipeline.process(event) }
        // Like the agent, which writes after each ring-buffer batch.
        if index % 64 == 63 && pipeline.output.count >= 64 * 1024 {
            bytes += pipeline.output.count
            try pipeline.output.withBytes { buffer throws(LineOutput.Failure) in try output.write(buffer) }
            pipeline.output.removeAll()
        }
    }
    bytes += pipeline.output.count
    try pipeline.output.withBytes { buffer throws(LineOutput.Failure) in try output.write(buffer) }
    pipeline.output.removeAll()
    return bytes
}

/// Who each process is on a Kubernetes training node: 8 ranks per job,
/// one pod and container per job.
func identity(of pid: UInt32) -> WorkloadIdentity {
    let job = pid / 8
    let hex = String(job, radix: 16)
    let word = String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    let container = String(repeating: word, count: 8)
    let path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(word)_5b7d_4c8e_9f01_23456789abcd.slice/"
        + "cri-containerd-\(container).scope"
    var identity = WorkloadIdentity(cgroupPath: path, cgroup: (try? CgroupWorkload(path: path)) ?? CgroupWorkload())
    identity.launcher.runID = "job-\(job)"
    identity.launcher.rank = pid % 8
    identity.launcher.localRank = pid % 8
    identity.launcher.worldSize = 8
    return identity
}

func run(_ records: [ark_record], rules: RuleSet, outputPath: String, identities: Bool) throws -> RunResult {
    var options = Pipeline.Options()
    options.rules = rules
    let pipeline = Pipeline(options: options, clock: clock, dropReasonNames: dropReasonNames)
    if identities {
        for pid in Set(records.map(\.owner.tgid)) where pid != 0 {
            pipeline.identify(pid, as: identity(of: pid), command: Command("python3"), cgroupID: 0,
                              at: records.first?.ktime_ns ?? 0)
        }
        pipeline.output.removeAll()
    }
    if outputPath != "/dev/null" { unlink(outputPath) }
    let output = try LineOutput(appendingTo: outputPath)
    let start = now()
    let bytes = try records.withUnsafeBufferPointer { buffer in try replayTrace(buffer, through: pipeline, to: output) }
    let seconds = now() - start
    return RunResult(seconds: seconds, outputBytes: bytes, alerts: pipeline.alertsWritten, events: pipeline.eventsWritten)
}

/// The trace as `ark-probe record` would have written it: a probe.started
/// line with the clock offset, then one line per event.
func writeTrace(_ records: [ark_record], to path: String) throws {
    unlink(path)
    let output = try LineOutput(appendingTo: path)
    var line = JSONLineWriter(capacity: 1 << 20)
    line.beginObject()
    line.field("ts", clock.milliseconds(monotonicNanoseconds: records.first?.ktime_ns ?? 0))
    line.field("event_type", plain: "probe.started")
    line.field("entity_id", plain: "probe-bench")
    line.field("pid", UInt64(1))
    line.field("value", plain: "tp_btf")
    line.field("clock_offset_ns", clock.offsetNanoseconds)
    line.endLine()
    let encoder = EventLineEncoder(clock: clock, dropReasonNames: dropReasonNames)
    for index in records.indices {
        guard let event = records.withUnsafeBufferPointer({ ProbeEvent(record: $0.baseAddress! + index) }) else { continue }
        encoder.encode(event, into: &line)
        if line.count >= 1 << 19 {
            try line.withBytes { buffer throws(LineOutput.Failure) in try output.write(buffer) }
            line.removeAll()
        }
    }
    try line.withBytes { buffer throws(LineOutput.Failure) in try output.write(buffer) }
}

func shippedRules() -> [(path: String, bytes: [UInt8])] {
    let directory = "rules"
    guard let stream = opendir(directory) else { return [] }
    defer { closedir(stream) }
    var files: [(path: String, bytes: [UInt8])] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasSuffix(".yaml"), let file = fopen(directory + "/" + name, "r") else { continue }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        fclose(file)
        files.append((directory + "/" + name, bytes))
    }
    return files.sorted { $0.path < $1.path }
}

let arguments = Arguments(CommandLine.arguments)
let records = makeRecords(arguments.events)
if let tracePath = arguments.tracePath {
    try writeTrace(records, to: tracePath)
    exit(0)
}
let files = shippedRules()
guard !files.isEmpty else { fail("no rules/*.yaml here: run from the package root") }
let rules = try RuleEngine.load(files: files)
var results: [RunResult] = []
for _ in 0..<arguments.runs {
    results.append(try run(records, rules: rules, outputPath: arguments.outputPath, identities: arguments.identities))
}
let times = results.map(\.seconds).sorted()
let best = times[0]
let median = times[times.count / 2]
let count = Double(arguments.events)
print("{\"events\":\(arguments.events),\"runs\":\(arguments.runs),"
      + "\"events_per_second_best\":\(Int(count / best)),\"events_per_second_median\":\(Int(count / median)),"
      + "\"ns_per_event_best\":\(Int(best * 1e9 / count)),\"output_bytes\":\(results[0].outputBytes),"
      + "\"alerts\":\(results[0].alerts)}")
