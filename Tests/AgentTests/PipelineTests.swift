import Foundation
import XCTest
@testable import Agent
import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// Event time in milliseconds, as nanoseconds.
private func ms(_ milliseconds: UInt64) -> UInt64 { milliseconds * 1_000_000 }

private let netns: UInt32 = 4_026_531_840

private func retransmit(pid: UInt32, at milliseconds: UInt64, cookie: UInt64 = 1, peer: UInt8 = 2,
                        segments: UInt32 = 1, cause: RetransmitCause = .fastRetransmit,
                        state: CongestionState = .recovery, backoff: UInt8 = 0, port: UInt16 = 29500) -> ProbeEvent {
    ProbeEvent(kind: .retransmit, monotonicNanoseconds: ms(milliseconds),
               owner: SocketOwner(pid: pid, tid: pid, uid: 1000, cgroupID: 77, command: Command("trainer"), source: .socket),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, peer), remotePort: port,
                                      state: .established),
               socketCookie: cookie, networkNamespace: netns, segments: segments, cause: cause,
               congestionState: state, backoff: backoff)
}

private func rto(pid: UInt32, at milliseconds: UInt64, cookie: UInt64 = 1, peer: UInt8 = 2) -> ProbeEvent {
    retransmit(pid: pid, at: milliseconds, cookie: cookie, peer: peer, cause: .rto, state: .loss, backoff: 1)
}

private func kernelDrop(at milliseconds: UInt64, reason: UInt32) -> ProbeEvent {
    ProbeEvent(kind: .drop, monotonicNanoseconds: ms(milliseconds),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 9), localPort: 5001,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, 1), remotePort: 40000),
               networkNamespace: netns, dropReason: reason)
}

private func rules(_ yaml: String) throws -> RuleSet {
    try RuleEngine.load(files: [("t.yaml", Array(yaml.utf8))])
}

/// The package root, found from this file's path.
private let packageRoot: String = {
    var path = String(#filePath)
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

final class PipelineTests: XCTestCase {
    static let quietEdge = """
    rules:
      - rule: quiet-edge
        description: an edge without evidence for a second
        on: waits_on_network
        condition: quiet >= 1s
        value: quiet
        severity: info
        message: "{pid} quiet for {quiet}"
    """

    static let anyRTO = """
    rules:
      - rule: rto
        description: any RTO
        on: transport.drop
        condition: cause == "rto"
        severity: warning
        labels:
          team: net
        message: "{pid} RTO to {daddr}"
    """

    func pipeline(_ yaml: String?, offset: Int64 = 0, configure: (inout Pipeline.Options) -> Void = { _ in })
        throws -> Pipeline {
        var options = Pipeline.Options()
        options.rules = try yaml.map(rules)
        // The tests below were written for ticks of 250 ms (the default is 100 ms).
        options.tickNanoseconds = 250_000_000
        configure(&options)
        return Pipeline(options: options, clock: WallClock(offsetNanoseconds: offset),
                        dropReasonNames: [5: "NETFILTER_DROP"])
    }

    /// The output's lines as "<event_type>@<ktime_ns in ms>", and clears it.
    func lines(_ pipeline: Pipeline) -> [String] {
        defer { pipeline.output.removeAll() }
        return text(pipeline.output.bytes).split(separator: "\n").map { line in
            "\(field("event_type", of: line))@\(UInt64(field("ktime_ns", of: line))! / 1_000_000)"
        }
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The raw text of a top-level key's value (string quotes removed).
    func field(_ name: String, of line: Substring) -> String {
        guard let range = line.range(of: "\"\(name)\":") else { return "?" }
        var value = line[range.upperBound...]
        if value.first == "\"" {
            value = value.dropFirst()
            return String(value[..<value.firstIndex(of: "\"")!])
        }
        return String(value.prefix { $0 != "," && $0 != "}" })
    }

    // MARK: Ticks

    func testTicksRunAtFixedBoundariesBeforeTheFirstEventPastEach() throws {
        let pipeline = try pipeline(Self.quietEdge)
        pipeline.tick(through: ms(5000))
        XCTAssertEqual(pipeline.nextTick, 0, "no tick before the first event sets the phase")
        XCTAssertTrue(pipeline.output.isEmpty)

        pipeline.process(retransmit(pid: 100, at: 1100))
        XCTAssertEqual(pipeline.nextTick, ms(1250))
        XCTAssertEqual(lines(pipeline), ["transport.drop@1100", "graph.edge_added@1100", "graph.edge_added@1100"])

        // The ticks 1.25 s … 3.0 s run before the 3.0 s event: quiet >= 1 s from 2.25 s.
        pipeline.process(retransmit(pid: 100, at: 3000))
        XCTAssertEqual(lines(pipeline), ["alert@2250", "transport.drop@3000"])
        XCTAssertEqual(pipeline.nextTick, ms(3250))

        // Idle: the caller ticks.
        pipeline.tick(through: ms(3249))
        XCTAssertEqual(lines(pipeline), [])
        XCTAssertEqual(pipeline.nextTick, ms(3250))
        pipeline.tick(through: ms(3250))
        XCTAssertEqual(lines(pipeline), ["graph.edge_updated@3250", "graph.edge_updated@3250", "alert@3250"])
        XCTAssertEqual(pipeline.nextTick, ms(3500))
        XCTAssertEqual(pipeline.alertsWritten, 2)
    }

    func testATickOnTheEventsOwnTimeRunsBeforeIt() throws {
        let pipeline = try pipeline(Self.quietEdge.replacingOccurrences(of: "quiet >= 1s", with: "quiet >= 100ms"))
        pipeline.process(retransmit(pid: 100, at: 1000))
        XCTAssertEqual(pipeline.nextTick, ms(1250))
        _ = lines(pipeline)
        pipeline.process(retransmit(pid: 100, at: 1250))
        XCTAssertEqual(lines(pipeline), ["alert@1250", "transport.drop@1250"])
        XCTAssertEqual(pipeline.nextTick, ms(1500))
    }

    func testTheTickIntervalIsAnOption() throws {
        let pipeline = try pipeline(Self.quietEdge) { $0.tickNanoseconds = 1_000_000_000 }
        pipeline.process(retransmit(pid: 100, at: 1100))
        XCTAssertEqual(pipeline.nextTick, ms(2000))
        _ = lines(pipeline)
        pipeline.tick(through: ms(2999))
        XCTAssertEqual(lines(pipeline), [], "quiet 0.9 s at the 2 s tick")
        pipeline.tick(through: ms(3000))
        XCTAssertEqual(lines(pipeline), ["alert@3000"])
    }

    // MARK: Lines

    func testOneEventsLinesInOrderByteForByte() throws {
        let pipeline = try pipeline(Self.anyRTO, offset: 1_710_000_000_000_000_000)
        pipeline.process(rto(pid: 100, at: 1000))
        XCTAssertEqual(text(pipeline.output.bytes), """
        {"ts":1710000001000,"event_type":"transport.drop","entity_id":"network-pid-100","pid":100,"value":"1",\
        "tid":100,"comm":"trainer","uid":1000,"cgroup_id":77,"attribution":"socket","family":"ipv4",\
        "saddr":"10.0.0.1","sport":40000,"daddr":"10.0.0.2","dport":29500,"tcp_state":"ESTABLISHED",\
        "cause":"rto","ca_state":"loss","backoff":1,"srtt_us":0,"rto_us":0,"packets_out":0,"socket_cookie":1,"socket_cgroup_id":0,"netns":4026531840,\
        "ktime_ns":1000000000}
        {"ts":1710000001000,"event_type":"graph.edge_added","entity_id":"network-pid-100","pid":100,\
        "value":"waits_on","from":"process-pid-100","to":"network-pid-100","comm":"trainer","peer":"10.0.0.2",\
        "retransmit_rate":0.2,"retransmits":1,"rtos":1,"failed":0,"backoff":1,"connections":1,"window_s":5,\
        "since":1710000001000,"held_s":0,"blocked_s":0,"blocked_for_s":0,"ktime_ns":1000000000}
        {"ts":1710000001000,"event_type":"graph.edge_added","entity_id":"peer-10.0.0.2","pid":100,\
        "value":"waits_on","from":"process-pid-100","to":"peer-10.0.0.2","comm":"trainer","peer":"10.0.0.2",\
        "retransmit_rate":0.2,"retransmits":1,"rtos":1,"failed":0,"backoff":1,"connections":1,"window_s":5,\
        "since":1710000001000,"held_s":0,"blocked_s":0,"blocked_for_s":0,"ktime_ns":1000000000}
        {"ts":1710000001000,"event_type":"alert","entity_id":"network-pid-100","pid":100,"value":"rto",\
        "state":"firing","rule":"rto","severity":"warning","message":"100 RTO to 10.0.0.2",\
        "labels":{"team":"net"},"onset":1710000001000,"evidence":{"attribution":"socket","backoff":1,\
        "ca_state":"loss","cause":"rto","cgroup_id":77,"comm":"trainer","daddr":"10.0.0.2","dport":29500,\
        "event_type":"transport.drop","family":"ipv4","netns":4026531840,"pid":100,"previous_ca_state":"open",\
        "saddr":"10.0.0.1","segments":1,"sport":40000,"tcp_state":"ESTABLISHED","tid":100,"uid":1000,\
        "value":1},"ktime_ns":1000000000}

        """)
        XCTAssertEqual(pipeline.eventsWritten, 1)
        XCTAssertEqual(pipeline.alertsWritten, 1)
    }

    func testLinesOfOneEventComeEventThenGraphThenAlerts() throws {
        let pipeline = try pipeline(Self.anyRTO + "\n" + Self.quietEdge.replacingOccurrences(of: "rules:\n", with: ""))
        pipeline.process(retransmit(pid: 100, at: 900))
        pipeline.process(rto(pid: 200, at: 2500, cookie: 2, peer: 3))
        XCTAssertEqual(lines(pipeline), [
            "transport.drop@900", "graph.edge_added@900", "graph.edge_added@900",
            "alert@2000",   // a tick: quiet >= 1 s for pid 100
            "transport.drop@2500", "graph.edge_added@2500", "graph.edge_added@2500", "alert@2500",
        ])
    }

    func testTheFilterAppliesToEverything() throws {
        let pipeline = try pipeline(Self.anyRTO) { $0.filter = EventFilter(pids: [100]) }
        pipeline.process(rto(pid: 200, at: 500, cookie: 2))
        XCTAssertEqual(pipeline.nextTick, 0, "a filtered event does not set the tick phase")
        XCTAssertTrue(pipeline.output.isEmpty)
        pipeline.process(rto(pid: 100, at: 1100))
        pipeline.process(rto(pid: 200, at: 1200, cookie: 2))
        pipeline.process(rto(pid: 100, at: 1300))
        pipeline.tick(through: ms(10_000))
        XCTAssertEqual(pipeline.nextTick, ms(10_250))
        let output = text(pipeline.output.bytes)
        XCTAssertEqual(lines(pipeline), [
            "transport.drop@1100", "graph.edge_added@1100", "graph.edge_added@1100", "alert@1100",
            // The event rule's alert resolves at the next tick, fires again
            // on the next matching event, and resolves again.
            "alert@1250",
            "transport.drop@1300", "alert@1300", "alert@1500",
            // At most one update a second, when the figures changed; the
            // edges stay (the connection is in RTO backoff).
            "graph.edge_updated@2250", "graph.edge_updated@2250",
            // The blocked spell ends once its timer stayed quiet (2.3 s and
            // an eighth), told by the next update.
            "graph.edge_updated@3250", "graph.edge_updated@3250",
            "graph.edge_updated@6000", "graph.edge_updated@6000",
            "graph.edge_updated@7000", "graph.edge_updated@7000",
        ])
        XCTAssertFalse(output.contains("\"pid\":200"))
        XCTAssertFalse(output.contains("network-pid-200"))
        XCTAssertEqual(pipeline.totals.sorted.map(\.pid), [100])
        XCTAssertEqual(pipeline.eventsWritten, 2)
        XCTAssertEqual(pipeline.alertsWritten, 4)
    }

    func testWithoutEventLines() throws {
        let pipeline = try pipeline(Self.anyRTO) { $0.writesEvents = false }
        pipeline.process(rto(pid: 100, at: 1000))
        XCTAssertEqual(lines(pipeline), ["graph.edge_added@1000", "graph.edge_added@1000", "alert@1000"])
        XCTAssertEqual(pipeline.eventsWritten, 0)
        XCTAssertEqual(pipeline.totals.sorted.map(\.retransmittedSegments), [1], "totals still count")
    }

    func testWithoutGraphLinesTheGraphStillFeedsTheRules() throws {
        let pipeline = try pipeline(Self.quietEdge) { $0.writesGraph = false }
        pipeline.process(retransmit(pid: 100, at: 1000))
        pipeline.tick(through: ms(7000))
        XCTAssertEqual(lines(pipeline), ["transport.drop@1000", "alert@2000", "alert@6000"])
        XCTAssertTrue(pipeline.graph.processes.isEmpty, "the edge expired at 6 s")
    }

    func testNoRulesNoAlerts() throws {
        let pipeline = try pipeline(nil) { $0.keepsAlerts = true }
        pipeline.process(rto(pid: 100, at: 1000))
        pipeline.tick(through: ms(10_000))
        XCTAssertEqual(pipeline.alertsWritten, 0)
        XCTAssertTrue(pipeline.keptAlerts.isEmpty)
        XCTAssertEqual(lines(pipeline).filter { $0.hasPrefix("alert@") }, [])
    }

    func testKeptAlerts() throws {
        let pipeline = try pipeline(Self.anyRTO) { $0.keepsAlerts = true }
        pipeline.process(rto(pid: 100, at: 1000))
        pipeline.process(retransmit(pid: 100, at: 1100))
        XCTAssertEqual(pipeline.keptAlerts.map { "\($0.state.rawValue)@\($0.time / 1_000_000)" },
                       ["firing@1000", "resolved@1100"])
        pipeline.forgetKeptAlerts()
        XCTAssertTrue(pipeline.keptAlerts.isEmpty)
        XCTAssertEqual(pipeline.alertsWritten, 2)
    }

    func testLearnedDropReasonNamesReachLinesAndRules() throws {
        let yaml = """
        rules:
          - rule: zero-window
            description: a drop for a zero window
            on: transport.kernel_drop
            condition: reason == "TCP_ZEROWINDOW"
            severity: info
            message: "{reason}"
        """
        let pipeline = try pipeline(yaml)
        pipeline.process(kernelDrop(at: 1000, reason: 99))
        XCTAssertTrue(text(pipeline.output.bytes).contains(#""reason":"UNKNOWN_99","reason_code":99"#))
        XCTAssertEqual(pipeline.alertsWritten, 0)
        pipeline.output.removeAll()
        pipeline.learnDropReason(99, name: "TCP_ZEROWINDOW")
        pipeline.learnDropReason(5, name: "NOT_THIS")
        pipeline.process(kernelDrop(at: 1100, reason: 99))
        pipeline.process(kernelDrop(at: 1200, reason: 5))
        let output = text(pipeline.output.bytes)
        XCTAssertTrue(output.contains(#""reason":"TCP_ZEROWINDOW","reason_code":99"#))
        XCTAssertTrue(output.contains(#""reason":"NETFILTER_DROP","reason_code":5"#), "a known name is kept")
        XCTAssertEqual(lines(pipeline), [
            "transport.kernel_drop@1100", "alert@1100",
            "transport.kernel_drop@1200", "alert@1200",   // the same entity (the netns), now another reason
        ])
    }

    // Events reach the pipeline slightly out of order (the ring buffer
    // merges CPUs; Replay tolerates 1 s). AlertLifecycle.update computes
    // `time &- pendingSince` with wrapping subtraction, so an event 1 ms
    // older than the onset counts as having held for ~584 years: `for:` is
    // skipped and the alert fires at once.
    func testaSlightlyReorderedEventDoesNotSkipFor() throws {
        let pipeline = try pipeline(Self.anyRTO.replacingOccurrences(of: "severity: warning", with: "for: 1s\n    severity: warning"))
        pipeline.process(rto(pid: 100, at: 10_000))
        pipeline.process(rto(pid: 100, at: 9_999))
        XCTAssertEqual(lines(pipeline), ["transport.drop@10000", "graph.edge_added@10000", "graph.edge_added@10000",
                                         "transport.drop@9999"])
    }

    // MARK: Determinism

    static func mixedTrace() -> [ProbeEvent] {
        var events: [ProbeEvent] = []
        for pid in 100...105 as ClosedRange<UInt32> {
            let peer: UInt8 = pid % 2 == 0 ? 2 : 3
            for step in 0..<40 as Range<UInt64> {
                let time = 1000 + step * 170 + UInt64(pid) * 13
                events.append(pid % 2 == 0
                    ? rto(pid: pid, at: time, cookie: UInt64(pid), peer: peer)
                    : retransmit(pid: pid, at: time, cookie: UInt64(pid), peer: peer, segments: UInt32(step % 4 + 1)))
            }
        }
        events += stride(from: 2000 as UInt64, to: 9000, by: 7).map { kernelDrop(at: $0, reason: 5) }
        events.append(ProbeEvent(kind: .processExit, monotonicNanoseconds: ms(6100),
                                 owner: SocketOwner(pid: 102, command: Command("trainer"))))
        events.append(ProbeEvent(kind: .congestionState, monotonicNanoseconds: ms(6200),
                                 owner: SocketOwner(pid: 104, command: Command("trainer")),
                                 connection: Connection(family: .ipv4), socketCookie: 104,
                                 congestionState: .open, previousCongestionState: .loss))
        return events.enumerated().sorted {
            ($0.element.monotonicNanoseconds, $0.offset) < ($1.element.monotonicNanoseconds, $1.offset)
        }.map(\.element)
    }

    func shippedRules() throws -> RuleSet {
        try RuleEngine.load(files: RuleFiles.read([packageRoot + "/rules"]))
    }

    func run(_ events: [ProbeEvent], idleTicksEvery: Int? = nil) throws -> [UInt8] {
        var options = Pipeline.Options()
        options.rules = try shippedRules()
        let pipeline = Pipeline(options: options, clock: WallClock(offsetNanoseconds: 1_700_000_000_000_000_000),
                                dropReasonNames: [5: "NETFILTER_DROP"])
        var bytes: [UInt8] = []
        for (index, event) in events.enumerated() {
            // A live agent also ticks when idle, up to a time before the next event.
            if let every = idleTicksEvery, index % every == 0, event.monotonicNanoseconds > 1 {
                pipeline.tick(through: event.monotonicNanoseconds - 1)
            }
            pipeline.process(event)
            bytes += pipeline.output.bytes
            pipeline.output.removeAll()
        }
        pipeline.tick(through: ms(40_000))
        return bytes + pipeline.output.bytes
    }

    func testTheSameEventsGiveTheSameBytes() throws {
        let events = Self.mixedTrace()
        let first = try run(events)
        let second = try run(events)
        XCTAssertEqual(first, second)
        let output = text(first)
        for rule in ["workload-stalled", "workload-degraded", "peer-fan-in", "connection-stalled", "kernel-drop-spike"] {
            XCTAssertTrue(output.contains(#""state":"firing","rule":"\#(rule)""#), "\(rule) fired")
            XCTAssertTrue(output.contains(#""state":"resolved","rule":"\#(rule)""#), "\(rule) resolved")
        }
    }

    func testIdleTicksBetweenEventsDoNotChangeTheOutput() throws {
        let events = Self.mixedTrace()
        XCTAssertEqual(try run(events, idleTicksEvery: 3), try run(events))
    }

    /// A process's identity: one line when it is news (if the filter lets
    /// the process through), then on every line of it (events, graph
    /// lines, alerts); gone with the process; a replay writes it the same.
    func testIdentityIsAnnouncedOnceThenCarriedByEveryLineOfItsProcessAndReplaysTheSame() throws {
        var options = Pipeline.Options()
        options.filter = EventFilter(pids: [100, 200])
        options.rules = try rules("""
            rules:
              - rule: any-rto
                description: an RTO, with the rank of its process
                on: transport.drop
                condition: cause == "rto"
                severity: warning
                message: "{pid} {rank}"
            """)
        let pipeline = Pipeline(options: options, clock: WallClock(offsetNanoseconds: 0), dropReasonNames: [:])
        var rank0 = WorkloadIdentity(cgroupPath: "/system.slice/slurmstepd.scope/job_9/step_0/user/task_0")
        rank0.cgroup = try CgroupWorkload(path: rank0.cgroupPath!)
        rank0.launcher.rank = 0
        pipeline.identify(100, as: rank0, command: Command("python3"), cgroupID: 77, at: ms(900))
        pipeline.identify(100, as: rank0, command: Command("python3"), cgroupID: 77, at: ms(950))
        pipeline.identify(300, as: rank0, command: Command("other"), cgroupID: 77, at: ms(960))
        pipeline.process(rto(pid: 100, at: 1000))
        pipeline.process(retransmit(pid: 100, at: 1100))
        pipeline.process(retransmit(pid: 300, at: 1200))
        pipeline.process(retransmit(pid: 200, at: 1300))
        pipeline.process(ProbeEvent(kind: .processExit, monotonicNanoseconds: ms(1400),
                                    owner: SocketOwner(pid: 100, command: Command("python3"), source: .socket)))
        pipeline.process(retransmit(pid: 100, at: 1500))
        let lines = String(decoding: pipeline.output.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        let types = lines.map { line in line.split(separator: ",")[1].dropFirst("\"event_type\":\"".count).dropLast() }
        XCTAssertEqual(types, ["process.identity", "transport.drop", "graph.edge_added", "graph.edge_added", "alert", "alert",
                               "transport.drop", "transport.drop", "graph.edge_added", "graph.edge_added", "process.exit",
                               "graph.edge_removed", "graph.edge_removed", "transport.drop", "graph.edge_added", "graph.edge_added"])
        let fields = #","job":"slurm:9","rank":0,"slurm_job":9,"slurm_step":"0","#
            + #""cgroup_path":"/system.slice/slurmstepd.scope/job_9/step_0/user/task_0""#
        XCTAssertEqual(lines[0], #"{"ts":900,"event_type":"process.identity","entity_id":"process-pid-100","pid":100,"#
                       + #""value":"slurm:9","comm":"python3","cgroup_id":77,"job":"slurm:9","rank":0,"slurm_job":9,"#
                       + #""slurm_step":"0","systemd_unit":"slurmstepd.scope","#
                       + #""cgroup_path":"/system.slice/slurmstepd.scope/job_9/step_0/user/task_0","ktime_ns":900000000}"#)
        for index in [1, 2, 3, 4, 5, 6, 10, 11, 12] {
            XCTAssertTrue(lines[index].contains(fields), "line \(index) carries pid 100's identity: \(lines[index])")
        }
        XCTAssertTrue(lines[4].contains(#""message":"100 0""#), "rules read the identity: \(lines[4])")
        for index in [7, 8, 9] { XCTAssertFalse(lines[index].contains("job"), "pid 200 has no identity: \(lines[index])") }
        XCTAssertFalse(lines.contains { $0.contains("\"pid\":300") }, "pid 300's lines were all filtered out, its identity too")
        XCTAssertNil(pipeline.graph.identities[300], "and the jobs do not count it")
        for index in 13...15 {
            XCTAssertFalse(lines[index].contains("job"), "a pid reused after the exit is someone else: \(lines[index])")
        }

        // The stream, replayed: the same lines.
        let path = NSTemporaryDirectory() + "identity-\(getpid()).jsonl"
        defer { unlink(path) }
        let start = #"{"ts":0,"event_type":"probe.started","entity_id":"probe-x","pid":1,"value":"tp_btf","clock_offset_ns":0}"#
        try (([start] + lines).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var replayOptions = Replay.Options()
        replayOptions.pipeline = options
        let replay = Replay(options: replayOptions)
        var replayed: [UInt8] = []
        try replay.run([path]) { writer in replayed += writer.bytes }
        XCTAssertEqual(String(decoding: replayed, as: UTF8.self), lines.joined(separator: "\n") + "\n")
    }
}

final class ReplayProgressTests: XCTestCase {
    func testTheTerminalLine() {
        let progress = ReplayProgress(events: 1_234_567, bytesRead: 400 << 20, totalBytes: 1200 << 20)
        XCTAssertEqual(progress.text(afterSeconds: 2), "1,234,567 events, 617,283 events/s, 33 % of 1.2 GB, about 4 s left")
        XCTAssertEqual(ReplayProgress(events: 999, bytesRead: 1 << 30, totalBytes: 300 << 30).text(afterSeconds: 10),
                       "999 events, 99 events/s, 0 % of 300 GB, about 50 min left")
        XCTAssertEqual(ReplayProgress(events: 5, bytesRead: 0, totalBytes: 0).text(afterSeconds: 0), "5 events, 0 events/s")
        XCTAssertEqual(ReplayProgress.size(2048), "2.0 KB")
        XCTAssertEqual(ReplayProgress.size(15 << 20), "15 MB")
        XCTAssertEqual(ReplayProgress.size(100), "100 B")
    }

    /// Reported as the replay goes, never past the whole.
    func testAReplayReportsItsProgress() throws {
        let path = NSTemporaryDirectory() + "replay-progress-\(getpid()).jsonl"
        defer { unlink(path) }
        var text = #"{"ts":0,"event_type":"probe.started","entity_id":"probe-x","pid":1,"value":"tp_btf","clock_offset_ns":0}"# + "\n"
        for step in 1...5000 {
            text += #"{"ts":\#(step),"event_type":"transport.drop","entity_id":"network-pid-7","pid":7,"value":"1","ktime_ns":\#(step * 1_000_000)}"# + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        final class Reports: @unchecked Sendable { var all: [ReplayProgress] = [] }
        let reports = Reports()
        var options = Replay.Options()
        options.progressEntries = 1000
        options.progress = { reports.all.append($0) }
        try Replay(options: options).run([path]) { _ in }
        XCTAssertEqual(reports.all.map(\.events), [999, 1999, 2999, 3999, 4999], "every 1,000 lines (the first is probe.started)")
        XCTAssertTrue(reports.all.allSatisfy { $0.totalBytes == UInt64(text.utf8.count) && $0.bytesRead <= $0.totalBytes })
    }
}
