import Foundation
import ProbeEvents
@testable import RuleLanguage
@testable import StateGraph
import WorkloadIdentity
import XCTest
@testable import RuleEngine

final class EventRuleTests: XCTestCase {
    static func rtoBurst(extra: String = "") -> String {
        """
        rules:
          - rule: rto-burst
            description: three RTOs within five seconds
            on: transport.drop
            condition: count(cause == "rto", 5s) >= 3
            value: count(cause == "rto", 5s)
        \(extra)
            severity: warning
            labels:
              team: net
            message: >-
              task {pid} ({comm}) hit {count(cause == "rto", 5s)} RTOs to {daddr}:{dport}
        """
    }

    static let burstEvents: [ProbeEvent] = [
        rto(pid: 100, at: 1000),
        rto(pid: 200, at: 1200, cookie: 2),
        rto(pid: 100, at: 1500),
        retransmit(pid: 100, at: 1700),
        rto(pid: 200, at: 1700, cookie: 2),
        rto(pid: 100, at: 2000),
        rto(pid: 100, at: 2500),
    ]

    func testWindowedCountFiresPerEntityAndResolvesWhenTheWindowEmpties() throws {
        let harness = try EngineHarness(Self.rtoBurst())
        harness.feed(Self.burstEvents)
        XCTAssertEqual(harness.summary(), ["2000 firing rto-burst network-pid-100 value=3"])
        harness.run(until: 10_000)
        // RTOs at 1.0, 1.5, 2.0, 2.5 s: at 6.5 s the 1.5 s bucket leaves the window.
        XCTAssertEqual(harness.summary(), [
            "2000 firing rto-burst network-pid-100 value=3",
            "6500 resolved rto-burst network-pid-100 value=2",
        ])
        let firing = harness.alerts[0]
        XCTAssertEqual(firing.message, "task 100 (trainer) hit 3 RTOs to 10.0.0.2:29500")
        XCTAssertEqual(firing.pid, 100)
        XCTAssertEqual(firing.onset, ms(2000))
        XCTAssertEqual(firing.severity, .warning)
        XCTAssertEqual(firing.labels, [RuleLabel(name: "team", value: "net")])
        XCTAssertEqual(harness.alerts[1].message, "task 100 (trainer) hit 2 RTOs to 10.0.0.2:29500")
        XCTAssertEqual(harness.alerts[1].onset, ms(2000))
    }

    func testTwoEntitiesFireSeparately() throws {
        let harness = try EngineHarness(Self.rtoBurst())
        harness.feed([
            rto(pid: 100, at: 1000), rto(pid: 300, at: 1000, cookie: 3),
            rto(pid: 100, at: 1100), rto(pid: 300, at: 1100, cookie: 3),
            rto(pid: 300, at: 1200, cookie: 3),
            rto(pid: 100, at: 1300),
        ])
        harness.run(until: 7000)
        XCTAssertEqual(harness.summary(), [
            "1200 firing rto-burst network-pid-300 value=3",
            "1300 firing rto-burst network-pid-100 value=3",
            "6000 resolved rto-burst network-pid-100 value=1",
            "6000 resolved rto-burst network-pid-300 value=0",
        ])
    }

    func testForDelaysFiringToTheFirstTickAfterIt() throws {
        let harness = try EngineHarness(Self.rtoBurst(extra: "    for: 1s"))
        harness.feed(Self.burstEvents)
        XCTAssertEqual(harness.summary(), [])
        harness.run(until: 2750)
        XCTAssertEqual(harness.summary(), [])
        harness.run(until: 3000)
        XCTAssertEqual(harness.summary(), ["3000 firing rto-burst network-pid-100 value=4"])
        XCTAssertEqual(harness.alerts[0].onset, ms(2000))
        harness.run(until: 10_000)
        XCTAssertEqual(harness.summary().last, "6500 resolved rto-burst network-pid-100 value=2")
        XCTAssertEqual(harness.alerts.count, 2)
    }

    func testPendingThatStopsHoldingNeverFiresThenASustainedBurstDoes() throws {
        let yaml = """
        rules:
          - rule: rto-1s
            description: three RTOs within a second, for two seconds
            on: transport.drop
            condition: count(cause == "rto", 1s) >= 3
            value: count(cause == "rto", 1s)
            for: 2s
            severity: warning
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([rto(pid: 100, at: 1000), rto(pid: 100, at: 1200), rto(pid: 100, at: 1400)])
        harness.run(until: 4000)
        XCTAssertEqual(harness.summary(), [], "pending at 1.4 s, inactive again at 2.0 s")
        // RTOs every 200 ms from 5.0 s to 8.0 s: pending from 5.4 s.
        harness.feed(stride(from: 5000 as UInt64, through: 8000, by: 200).map { rto(pid: 100, at: $0) })
        harness.run(until: 12_000)
        // Event rules are evaluated on their events too: the 7.4 s RTO is
        // the first evaluation 2 s after the onset.
        XCTAssertEqual(harness.summary(), [
            "7400 firing rto-1s network-pid-100 value=5",
            "8750 resolved rto-1s network-pid-100 value=2",
        ])
        XCTAssertEqual(harness.alerts[0].onset, ms(5400))
    }

    func testKeepFiringForHoldsTheAlertAfterTheWindowEmpties() throws {
        let harness = try EngineHarness(Self.rtoBurst(extra: "    keep_firing_for: 2s"))
        harness.feed(Self.burstEvents)
        harness.run(until: 8000)
        XCTAssertEqual(harness.summary(), ["2000 firing rto-burst network-pid-100 value=3"])
        harness.run(until: 8250)
        // Last held at the 6.25 s tick; 2 s later.
        XCTAssertEqual(harness.summary(), [
            "2000 firing rto-burst network-pid-100 value=3",
            "8250 resolved rto-burst network-pid-100 value=0",
        ])
    }

    func testDisabledRulesAreNotEvaluated() throws {
        let yaml = Self.rtoBurst(extra: "    enabled: false") + """

          - rule: any-rto
            description: one RTO
            on: transport.drop
            condition: cause == "rto"
            severity: info
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed(Self.burstEvents)
        harness.run(until: 3000)
        // A condition over one event holds at that event: without
        // keep_firing_for the alert resolves at the next tick.
        XCTAssertEqual(harness.summary(), [
            "1000 firing any-rto network-pid-100 value=rto",
            "1200 firing any-rto network-pid-200 value=rto",
            "1250 resolved any-rto network-pid-100 value=rto",
            "1250 resolved any-rto network-pid-200 value=rto",
            "1500 firing any-rto network-pid-100 value=rto",
            "1700 resolved any-rto network-pid-100 value=fast",
            "1700 firing any-rto network-pid-200 value=rto",
            "1750 resolved any-rto network-pid-200 value=rto",
            "2000 firing any-rto network-pid-100 value=rto",
            "2250 resolved any-rto network-pid-100 value=rto",
            "2500 firing any-rto network-pid-100 value=rto",
            "2750 resolved any-rto network-pid-100 value=rto",
        ])
    }

    func testEventSubjectsMatchTheirEventTypeOnly() throws {
        let yaml = """
        rules:
          - rule: sent
            description: a retransmission that was sent
            on: transport.drop
            condition: segments >= 1
            value: segments
            severity: info
            message: "{pid} sent {segments}"
          - rule: failed
            description: a retransmission that failed
            on: transport.retransmit_failed
            condition: error == "EBUSY"
            value: segments
            severity: info
            message: "{pid} failed {segments} with {error}"
          - rule: bad-exit
            description: an owner exited with a non-zero status
            on: process.exit
            condition: exit_code != 0
            value: exit_code
            severity: info
            message: "{pid} exited with {exit_code}"
          - rule: loss
            description: a connection entered Loss
            on: transport.congestion
            condition: ca_state == "loss" and previous_ca_state == "recovery"
            severity: info
            message: "{pid} {previous_ca_state} -> {ca_state}"
        """
        let harness = try EngineHarness(yaml)
        var synAck = retransmit(pid: 400, at: 1300, cookie: 4, segments: 1, cause: .synAck)
        synAck.kind = .synAckRetransmit
        harness.feed([
            retransmit(pid: 100, at: 1000, segments: 3),
            retransmit(pid: 200, at: 1100, cookie: 2, segments: 2, error: -16),
            retransmit(pid: 300, at: 1200, cookie: 3, segments: 2, error: -12),
            synAck,
            congestion(pid: 100, at: 1400, to: .loss, from: .recovery),
            congestion(pid: 200, at: 1500, cookie: 2, to: .recovery, from: .open),
            processExit(pid: 100, at: 1600, status: 0),
            processExit(pid: 200, at: 1700, status: 256),
        ])
        // Each resolves at the tick after its event (no keep_firing_for).
        XCTAssertEqual(harness.summary(), [
            "1000 firing sent network-pid-100 value=3",
            "1100 firing failed network-pid-200 value=2",
            "1250 resolved sent network-pid-100 value=3",
            "1250 resolved failed network-pid-200 value=2",
            "1300 firing sent network-pid-400 value=1",
            "1400 firing loss network-pid-100 value=loss",
            "1500 resolved sent network-pid-400 value=1",
            "1500 resolved loss network-pid-100 value=loss",
            "1700 firing bad-exit process-pid-200 value=256",
        ])
        XCTAssertEqual(harness.alerts.map(\.message), [
            "100 sent 3", "200 failed 2 with EBUSY", "sent no longer holds for network-pid-100",
            "failed no longer holds for network-pid-200", "400 sent 1", "100 recovery -> loss",
            "sent no longer holds for network-pid-400", "loss no longer holds for network-pid-100", "200 exited with 256",
        ])
        XCTAssertEqual(harness.alerts.map(\.pid), [100, 200, 100, 200, 400, 100, 400, 100, 200])
    }

    func testEventRuleMessageAndEvidenceOfAnUnattributedKernelDrop() throws {
        let yaml = """
        rules:
          - rule: firewall
            description: a packet dropped by netfilter
            on: transport.kernel_drop
            condition: reason == "NETFILTER_DROP"
            value: reason
            severity: info
            labels: {source: "kernel", why: "firewall \\"rule\\""}
            message: "{reason} in {netns} for pid {pid}, error {error}, {sport}->{dport}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([kernelDrop(at: 1000, reason: 7), kernelDrop(at: 1100, reason: 5)])
        XCTAssertEqual(harness.summary(), ["1100 firing firewall network-netns-4026531840 value=NETFILTER_DROP"])
        let alert = harness.alerts[0]
        XCTAssertEqual(alert.message, "NETFILTER_DROP in 4026531840 for pid 0, error n/a, 5001->40000")
        XCTAssertEqual(alert.pid, 0)
        XCTAssertEqual(alert.labels, [RuleLabel(name: "source", value: "kernel"),
                                      RuleLabel(name: "why", value: "firewall \"rule\"")])
        XCTAssertEqual(alert.evidence.map(\.name), [
            "attribution", "backoff", "ca_state", "cause", "cgroup_id", "cgroup_path", "comm", "container_id", "daddr",
            "dport", "error", "event_type", "exit_code", "family", "group_rank", "job", "local_rank", "netns", "pid",
            "pod_uid", "previous_ca_state", "qos_class", "rank", "reason", "saddr", "segments", "slurm_job", "slurm_step",
            "sport", "systemd_unit", "tcp_state", "tid", "uid", "value", "world_size",
        ])
        XCTAssertEqual(evidenceText(alert), [
            "attribution=none", "backoff=0", "ca_state=open", "cause=unknown", "cgroup_id=0", "comm=",
            "daddr=10.0.0.1", "dport=40000", "event_type=transport.kernel_drop", "family=ipv4",
            "netns=4026531840", "pid=0", "previous_ca_state=open", "reason=NETFILTER_DROP", "saddr=10.0.0.9",
            "sport=5001", "tcp_state=UNKNOWN", "tid=0", "uid=0", "value=1",
        ])
    }

    func testDeterministicAlertSequences() throws {
        func run() throws -> (summary: [String], bytes: [UInt8]) {
            let harness = try EngineHarness(Self.rtoBurst(extra: "    for: 500ms\n    keep_firing_for: 1s"))
            var events: [ProbeEvent] = []
            for pid in 1...40 as ClosedRange<UInt32> {
                for step in 0..<UInt64(pid % 7) {
                    events.append(rto(pid: pid, at: 1000 + UInt64(pid) * 37 + step * 211, cookie: UInt64(pid)))
                }
            }
            harness.feedSorted(events)
            harness.run(until: 20_000)
            var writer = JSONLineWriter()
            let encoder = AlertLineEncoder(clock: WallClock(offsetNanoseconds: 1_700_000_000_000_000_000))
            for alert in harness.alerts { encoder.encode(alert, into: &writer) }
            return (harness.summary(), writer.bytes)
        }
        let first = try run()
        let second = try run()
        // Pids with 3+ RTOs (pid % 7 >= 3) fire, and resolve, once each.
        let expected = (1...40).filter { $0 % 7 >= 3 }.count
        XCTAssertEqual(first.summary.filter { $0.contains(" firing ") }.count, expected)
        XCTAssertEqual(first.summary.filter { $0.contains(" resolved ") }.count, expected)
        XCTAssertEqual(first.summary, second.summary)
        XCTAssertEqual(first.bytes, second.bytes)
    }
}

final class GraphRuleTests: XCTestCase {
    static let stalled = """
    rules:
      - rule: stalled
        description: a process waits on the network with RTOs
        on: waits_on_network
        condition: rtos >= 2
        value: rtos
        for: 500ms
        severity: critical
        labels:
          team: ml
          category: network
        message: >-
          task {pid} ({comm}) waits on {peer}: {rtos} RTOs, {retransmits} segments
          in {window}, held {held}, quiet {quiet}
    """

    func testAVanishedSubjectResolvesWithTheFiguresOfItsLastHeldTick() throws {
        let harness = try EngineHarness(Self.stalled)
        harness.feedSorted([
            rto(pid: 100, at: 1000), rto(pid: 100, at: 1300), rto(pid: 100, at: 1600), rto(pid: 100, at: 1900),
            rto(pid: 100, at: 2100),  // after firing: the held ticks see 5 RTOs
            processExit(pid: 100, at: 2900),
        ])
        harness.run(until: 4000)
        XCTAssertEqual(harness.summary(), [
            "2000 firing stalled network-pid-100 value=4",
            "3000 resolved stalled network-pid-100 value=5",
        ])
        let resolved = harness.alerts[1]
        XCTAssertEqual(resolved.message, "stalled no longer holds for network-pid-100")
        XCTAssertEqual(resolved.pid, 100)
        XCTAssertTrue(evidenceText(resolved).contains("rtos=5"), "\(evidenceText(resolved))")
        XCTAssertTrue(evidenceText(resolved).contains("comm=trainer"), "\(evidenceText(resolved))")
    }

    func testWaitsOnNetworkFiresForTheStalledProcessAndNeverForTheBusyOne() throws {
        let harness = try EngineHarness(Self.stalled)
        var events = [
            rto(pid: 100, at: 1000, segments: 1, backoff: 1),
            rto(pid: 100, at: 1300, segments: 2, backoff: 2),
            rto(pid: 100, at: 1600, segments: 1, backoff: 3),
            rto(pid: 100, at: 1900, segments: 2, backoff: 4),
        ]
        // A busy, healthy flow: fast retransmits every 100 ms for 3 s.
        events += stride(from: 1050 as UInt64, to: 4000, by: 100).map {
            retransmit(pid: 200, at: $0, cookie: 2, peer: 3)
        }
        harness.feedSorted(events)
        harness.run(until: 12_000)
        XCTAssertEqual(harness.summary(), [
            "2000 firing stalled network-pid-100 value=4",
            "6500 resolved stalled network-pid-100 value=1",
        ])
        let firing = harness.alerts[0]
        XCTAssertEqual(firing.state, .firing)
        XCTAssertEqual(firing.time, ms(2000))
        XCTAssertEqual(firing.onset, ms(1500), "rtos >= 2 from the 1.5 s tick")
        XCTAssertEqual(firing.rule, "stalled")
        XCTAssertEqual(firing.severity, .critical)
        XCTAssertEqual(firing.pid, 100)
        XCTAssertEqual(firing.entity, .network(pid: 100))
        XCTAssertEqual(firing.labels, [RuleLabel(name: "category", value: "network"), RuleLabel(name: "team", value: "ml")])
        XCTAssertEqual(firing.value, .number(4))
        XCTAssertEqual(firing.message,
                       "task 100 (trainer) waits on 10.0.0.2: 4 RTOs, 6 segments in 5s, held 1s, quiet 0.1s")
        XCTAssertEqual(evidenceText(firing), [
            "backoff=4", "blocked=1", "blocked_1s=1", "blocked_for=1", "blocked_fraction=0.2", "cgroup_id=77", "comm=trainer",
            "connections=1", "failed=0", "held=1", "peer=10.0.0.2",
            "peer_waiters=1", "pid=100", "quiet=0.1", "retransmit_rate=1.2", "retransmits=6", "rtos=4", "window=5",
        ])
        let resolved = harness.alerts[1]
        XCTAssertEqual(resolved.onset, ms(1500))
        XCTAssertEqual(resolved.pid, 100)
        XCTAssertEqual(resolved.message,
                       "task 100 (trainer) waits on 10.0.0.2: 1 RTOs, 2 segments in 5s, held 5.5s, quiet 4.6s")
    }

    func testPeerFanInCountsStalledWaitersOnOnePeer() throws {
        let yaml = """
        rules:
          - rule: fan-in
            description: several processes stalled on one peer
            on: peer
            condition: stalled_waiters >= 2
            value: stalled_waiters
            severity: critical
            message: "{stalled_waiters} of {waiters} processes stalled on {peer}, {rtos} RTOs, {retransmits} segments"
        """
        let harness = try EngineHarness(yaml)
        // An RTO of 200 ms dates each spell one RTO back; the sockets
        // leave Loss at 2 s.
        // The retransmission is lost again: a second RTO 400 ms later.
        func timedRTO(pid: UInt32, at milliseconds: UInt64, peer: UInt8, backoff: UInt8 = 0) -> ProbeEvent {
            var event = rto(pid: pid, at: milliseconds, cookie: UInt64(pid), peer: peer, backoff: backoff)
            event.retransmitTimeoutMicroseconds = 200_000
            return event
        }
        var events = [
            timedRTO(pid: 100, at: 1000, peer: 9), timedRTO(pid: 104, at: 1000, peer: 8),
            retransmit(pid: 103, at: 1050, cookie: 103, peer: 9), timedRTO(pid: 101, at: 1100, peer: 9),
            retransmit(pid: 103, at: 1150, cookie: 103, peer: 9), timedRTO(pid: 102, at: 1200, peer: 9),
            timedRTO(pid: 100, at: 1400, peer: 9, backoff: 1), timedRTO(pid: 104, at: 1400, peer: 8, backoff: 1),
            timedRTO(pid: 101, at: 1500, peer: 9, backoff: 1), timedRTO(pid: 102, at: 1600, peer: 9, backoff: 1),
        ]
        events += [100, 101, 102, 104].map { (pid: UInt32) in
            congestion(pid: pid, at: 2000, cookie: UInt64(pid), peer: pid == 104 ? 8 : 9, to: .open, from: .loss)
        }
        harness.feedSorted(events)
        harness.run(until: 8000)
        // Stalled: blocked 600 ms or more of the last second. At the 1.5 s
        // tick pids 100 (since 0.8 s) and 101 (0.9 s); 102 (1.0 s) from the
        // 1.75 s tick. The spells end at 2.0 s; at the 2.5 s tick the last
        // second's buckets (from 1.55 s) hold 450 ms of each: resolved.
        XCTAssertEqual(harness.summary(), [
            "1500 firing fan-in peer-10.0.0.9 value=2",
            "2500 resolved fan-in peer-10.0.0.9 value=0",
        ])
        // At the 1.5 s tick: the first RTOs and 100's second (101's second at
        // 1.5 s comes after the tick).
        XCTAssertEqual(harness.alerts[0].message, "2 of 4 processes stalled on 10.0.0.9, 4 RTOs, 6 segments")
        XCTAssertEqual(harness.alerts[0].pid, 0)
        // Three spells in progress (103 retransmits without RTO or RTT: no
        // spell); the longest began at 0.8 s.
        XCTAssertEqual(evidenceText(harness.alerts[0]), [
            "blocked_for=0.7", "blocked_waiters=3", "peer=10.0.0.9", "retransmit_rate=1.2", "retransmits=6", "rtos=4",
            "stalled_waiters=2", "waiters=4", "window=5",
        ])
        XCTAssertEqual(harness.alerts[1].message, "0 of 4 processes stalled on 10.0.0.9, 6 RTOs, 8 segments")
    }

    static let storm = """
    rules:
      - rule: storm
        description: one connection keeps timing out
        on: connection
        condition: rtos >= 3 or backoff >= 3
        value: rtos
        severity: warning
        message: "{saddr}:{sport} -> {daddr}:{dport} of {pid} ({comm}): {rtos} RTOs, backoff {backoff}, {ca_state}"
    """

    /// Connection fields are read by code at ticks: every field of the
    /// schema but the identity's has one, and a rule's code reads what its
    /// name reads; identity fields and unknown names fall back to the name.
    func testConnectionFieldCodesCoverTheSchema() throws {
        let ownFields = Set(Subject.connectionFields.keys).subtracting(Subject.identityFields.keys)
        XCTAssertEqual(Set(ConnectionInstance.fieldsByCode), ownFields)
        XCTAssertEqual(ConnectionInstance.fieldsByCode.count, ownFields.count, "no name twice")
        XCTAssertEqual(Subject.connection.fieldCodes(of: ["blocked_1s", "job", "pid", "nonsense"]), [14, -1, 0, -1])
        XCTAssertEqual(Subject.peer.fieldCodes(of: ["peer", "waiters"]), [-1, -1])
        var graph = StateGraph(configuration: GraphConfiguration())
        var changes: [GraphChange] = []
        let event = retransmit(pid: 100, at: 1000, cookie: 8, sport: 40001, cause: .rto, state: .loss, backoff: 2)
        graph.apply(event, changes: &changes)
        var drops: [KernelDropKey: KernelDropCount] = [:]
        var spare: [ConnectionInstance] = []
        let instance = try XCTUnwrap(
            Instances(graph: graph, drops: &drops, at: ms(1500), needed: [.connection], spareConnections: &spare)
                .connections.first)
        for (code, name) in ConnectionInstance.fieldsByCode.enumerated() {
            XCTAssertEqual(instance.value(code: code, name: name), instance.value(name), name)
            XCTAssertNotEqual(instance.value(name), .missing, name)
        }
        XCTAssertEqual(instance.value("sport"), .number(40001))
        XCTAssertEqual(instance.value("backoff"), .number(2))
        XCTAssertEqual(instance.value("ca_state"), .string("loss"))
        XCTAssertEqual(instance.value(code: -1, name: "job"), .missing)
    }

    /// The rule context keeps a rule's field names across its subjects, asks
    /// for them again once other names were loaded, and never serves a
    /// value looked up for an earlier subject.
    func testRuleContextAsksForARulesFieldsOnlyAfterOtherNames() {
        let context = RuleContext()
        var asked = 0
        func fields() -> (names: [String], codes: [Int]) {
            asked += 1
            return (["a", "b"], [-1, -1])
        }
        context.load(rule: 0, fields: fields) { _, name in .string(name + "1") }
        XCTAssertEqual(context.value(of: FieldID(index: 1)), .string("b1"))
        context.load(rule: 0, fields: fields) { _, name in .string(name + "2") }
        XCTAssertEqual(context.value(of: FieldID(index: 1)), .string("b2"))
        XCTAssertEqual(asked, 1)
        context.load(["x"]) { .string($0) }
        XCTAssertEqual(context.value(of: FieldID(index: 0)), .string("x"))
        XCTAssertEqual(context.value(of: FieldID(index: 1)), .missing)
        context.load(rule: 0, fields: fields) { _, name in .string(name + "3") }
        XCTAssertEqual(context.value(of: FieldID(index: 0)), .string("a3"))
        XCTAssertEqual(asked, 2)
        context.load(rule: 1, fields: { (["c"], [-1]) }) { _, name in .string(name) }
        XCTAssertEqual(context.value(of: FieldID(index: 0)), .string("c"))
        XCTAssertEqual(context.value(of: FieldID(index: 1)), .missing)
    }

    /// A tick reuses the last tick's connection instances that nothing
    /// else holds; one that is held (an alert's held subject) is left as
    /// it was and a new instance made in its place.
    func testConnectionInstancesAreReusedUnlessHeld() throws {
        var graph = StateGraph(configuration: GraphConfiguration())
        var changes: [GraphChange] = []
        graph.apply(retransmit(pid: 100, at: 1000, cookie: 7), changes: &changes)
        graph.apply(retransmit(pid: 100, at: 1000, cookie: 8, sport: 40001), changes: &changes)
        var drops: [KernelDropKey: KernelDropCount] = [:]
        var none: [ConnectionInstance] = []
        var spare = Instances(graph: graph, drops: &drops, at: ms(1100), needed: [.connection],
                              spareConnections: &none).connections
        let held = spare[0]
        let free = ObjectIdentifier(spare[1])
        let connections = Instances(graph: graph, drops: &drops, at: ms(1300), needed: [.connection],
                                    spareConnections: &spare).connections
        XCTAssertEqual(connections.map { $0.value("quiet") }, [.number(0.3), .number(0.3)])
        XCTAssertTrue(connections.contains { ObjectIdentifier($0) == free })
        XCTAssertFalse(connections.contains { $0 === held })
        XCTAssertEqual(held.value("quiet"), .number(0.1))
    }

    /// A firing alert whose connection left the graph resolves with the
    /// figures of the last tick its condition held, though the ticks after
    /// that one reuse the connection instances nothing holds.
    func testAlertWhoseConnectionLeftResolvesWithItsHeldFigures() throws {
        let yaml = """
        rules:
          - rule: recent
            description: a connection retransmitted within half a second
            on: connection
            condition: quiet < 500ms
            value: quiet
            keep_firing_for: 3s
            severity: warning
            message: "{quiet}"
        """
        var configuration = GraphConfiguration()
        configuration.quietSeconds = 1
        let harness = try EngineHarness(yaml, graph: configuration)
        var events = [retransmit(pid: 100, at: 1000, cookie: 7), retransmit(pid: 100, at: 1100, cookie: 7)]
        events += stride(from: 1000 as UInt64, to: 6000, by: 200).map {
            retransmit(pid: 100, at: $0, cookie: 8, sport: 40001)
        }
        harness.feedSorted(events)
        harness.run(until: 6000)
        // Held at the 1.5 s tick (quiet 0.4); still there but quiet at the
        // next two, gone after.
        let left = harness.alerts.filter { $0.entity == .connection(7) }
        XCTAssertEqual(left.map(describe), [
            "1250 firing recent connection-7 value=0.15",
            "4500 resolved recent connection-7 value=0.4",
        ])
        XCTAssertEqual(left.last?.message, "recent no longer holds for connection-7")
        XCTAssertEqual(left.last.map(evidenceText)?.filter { $0.hasPrefix("quiet=") }, ["quiet=0.4"])
    }

    /// Evidence carries the identity the process had at the alert, read
    /// once per identity: a process identified anew shows its new one.
    func testEvidenceHasTheIdentityTheProcessHadThen() throws {
        let harness = try EngineHarness(Self.storm)
        func identity(rank: UInt32, run: String) -> WorkloadIdentity {
            var identity = WorkloadIdentity()
            identity.launcher.rank = rank
            identity.launcher.runID = run
            return identity
        }
        harness.graph.identify(100, as: identity(rank: 3, run: "a"), command: Command("trainer"))
        harness.feed([rto(pid: 100, at: 1000, cookie: 7), rto(pid: 100, at: 1100, cookie: 7), rto(pid: 100, at: 1200, cookie: 7)])
        harness.run(until: 1500)
        harness.graph.identify(100, as: identity(rank: 5, run: "b"), command: Command("trainer"))
        harness.feed(retransmit(pid: 100, at: 2100, cookie: 8, sport: 40001, cause: .rto, state: .loss, backoff: 3))
        harness.run(until: 2500)
        let firing = harness.alerts.filter { $0.state == .firing }
        XCTAssertEqual(firing.map(\.entity), [.connection(7), .connection(8)])
        XCTAssertEqual(firing.map { evidenceText($0).filter { $0.hasPrefix("job=") || $0.hasPrefix("rank=") } },
                       [["job=run:a", "rank=3"], ["job=run:b", "rank=5"]])
    }

    func testConnectionSubjectByRTOCountAndByBackoff() throws {
        let harness = try EngineHarness(Self.storm)
        var events = [
            rto(pid: 100, at: 1000, cookie: 7),
            retransmit(pid: 100, at: 1000, cookie: 8, sport: 40001, cause: .rto, state: .loss, backoff: 1),
            rto(pid: 100, at: 1100, cookie: 7),
            rto(pid: 100, at: 1200, cookie: 7),
            retransmit(pid: 100, at: 2100, cookie: 8, sport: 40001, cause: .rto, state: .loss, backoff: 3),
            congestion(pid: 100, at: 3000, cookie: 8, to: .open, from: .loss, backoff: 0),
        ]
        events += stride(from: 1000 as UInt64, to: 3000, by: 50).map {
            retransmit(pid: 100, at: $0, cookie: 9, peer: 3)
        }
        harness.feedSorted(events)
        harness.run(until: 8000)
        XCTAssertEqual(harness.summary(), [
            "1250 firing storm connection-7 value=3",
            "2250 firing storm connection-8 value=2",
            "3250 resolved storm connection-8 value=2",
            "6000 resolved storm connection-7 value=0",
        ])
        XCTAssertEqual(harness.alerts.map(\.message), [
            "10.0.0.1:40000 -> 10.0.0.2:29500 of 100 (trainer): 3 RTOs, backoff 1, loss",
            "10.0.0.1:40001 -> 10.0.0.2:29500 of 100 (trainer): 2 RTOs, backoff 3, loss",
            "10.0.0.1:40001 -> 10.0.0.2:29500 of 100 (trainer): 2 RTOs, backoff 0, open",
            "10.0.0.1:40000 -> 10.0.0.2:29500 of 100 (trainer): 0 RTOs, backoff 1, loss",
        ])
        XCTAssertEqual(harness.alerts.map(\.pid), [100, 100, 100, 100])
    }

    /// A tick evaluates every connection but tracks only those whose
    /// condition holds: more healthy connections than a rule may track
    /// neither make it forget anything nor crowd out the storm.
    func testHealthyConnectionsAreNotTrackedAtATick() throws {
        let healthy = RuleEngine.maximumEntitiesPerRule + 100
        let harness = try EngineHarness(Self.storm)
        var events = (0..<healthy).map {
            retransmit(pid: 100, at: 1000, cookie: UInt64(100 + $0), sport: UInt16(20000 + $0))
        }
        events += [rto(pid: 100, at: 1000, cookie: 7), rto(pid: 100, at: 1100, cookie: 7), rto(pid: 100, at: 1200, cookie: 7)]
        harness.feedSorted(events)
        harness.run(until: 1500)
        XCTAssertEqual(harness.graph.connections.count, healthy + 1)
        XCTAssertEqual(harness.summary(), ["1250 firing storm connection-7 value=3"])
        XCTAssertEqual(harness.engine.forgottenEntities, 0)
    }

    func testConnectionAggregatesReadTheConnectionsEvents() throws {
        let yaml = """
        rules:
          - rule: conn-rtos
            description: two RTOs on one connection
            on: connection
            condition: count(cause == "rto", 5s) >= 2
            value: count(cause == "rto", 5s)
            severity: warning
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([rto(pid: 100, at: 1000, cookie: 7), rto(pid: 100, at: 1100, cookie: 7),
                      rto(pid: 100, at: 1150, cookie: 8)])
        harness.run(until: 1500)
        XCTAssertEqual(harness.summary(), ["1250 firing conn-rtos connection-7 value=2"])
    }

    // The graph keys a connection without a socket cookie (the tracepoint
    // and kprobe fallbacks carry none) by a hash of netns and 5-tuple
    // (StateGraph.connectionKey), but AlertEntity.of(_:for: .connection)
    // returns nil for cookie 0, so such a connection's events never reach a
    // connection rule's aggregates: the rule sees an empty window forever.
    func testconnectionAggregatesIgnoreConnectionsWithoutASocketCookie() throws {
        let yaml = """
        rules:
          - rule: conn-rtos
            description: two RTOs on one connection
            on: connection
            condition: count(cause == "rto", 5s) >= 2
            value: count(cause == "rto", 5s)
            severity: warning
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        let first = rto(pid: 100, at: 1000, cookie: 0)
        harness.feed([first, rto(pid: 100, at: 1100, cookie: 0)])
        harness.run(until: 1500)
        let key = StateGraph.connectionKey(first)
        XCTAssertNotNil(harness.graph.connections[key], "the graph holds the connection")
        XCTAssertEqual(harness.summary(), ["1250 firing conn-rtos connection-\(key) value=2"])
    }

    /// Kernel drops are counted by code; what a reason is called decides
    /// its entity: drops counted before a replay learnt a code's name stay
    /// under the old text, and two codes given one name are one entity.
    func testKernelDropsFollowTheReasonsName() throws {
        let yaml = """
        rules:
          - rule: drops
            description: many drops of one reason
            on: kernel_drops
            condition: drops >= 40
            value: drops
            severity: warning
            message: "{drops} of {reason}"
        """
        let harness = try EngineHarness(rules: try loadEngineRules(yaml), dropReasons: [5: "NETFILTER_DROP", 6: "NETFILTER_DROP"])
        harness.feedSorted(stride(from: 1000 as UInt64, to: 1200, by: 5).map { kernelDrop(at: $0, reason: 99) })
        harness.engine.learnDropReason(99, name: "TCP_ZEROWINDOW")
        harness.feedSorted(stride(from: 1200 as UInt64, to: 1400, by: 5).map { kernelDrop(at: $0, reason: 99) })
        harness.feedSorted(stride(from: 1000 as UInt64, to: 1400, by: 10).flatMap {
            [kernelDrop(at: $0, reason: 5), kernelDrop(at: $0 + 5, reason: 6)]
        })
        harness.run(until: 1500)
        XCTAssertEqual(harness.summary(), [
            "1250 firing drops kernel-drops-4026531840-UNKNOWN_99 value=40",
            "1500 firing drops kernel-drops-4026531840-NETFILTER_DROP value=80",
            "1500 firing drops kernel-drops-4026531840-TCP_ZEROWINDOW value=40",
        ])
    }

    func testKernelDropsPerReason() throws {
        let yaml = """
        rules:
          - rule: drops
            description: many drops of one reason
            on: kernel_drops
            condition: drops >= 100
            value: drops
            severity: warning
            message: "{drops} drops ({rate}/s over {window}) of {reason} in netns {netns}"
        """
        let harness = try EngineHarness(yaml)
        var events: [ProbeEvent] = []
        events += stride(from: 1000 as UInt64, to: 2000, by: 5).map { kernelDrop(at: $0, reason: 5) }
        events += stride(from: 1000 as UInt64, to: 2000, by: 5).map { kernelDrop(at: $0, reason: 99) }
        events += stride(from: 1000 as UInt64, to: 2000, by: 100).map { kernelDrop(at: $0, reason: 7) }
        harness.feedSorted(events)
        harness.run(until: 8000)
        XCTAssertEqual(harness.summary(), [
            "1500 firing drops kernel-drops-4026531840-NETFILTER_DROP value=100",
            "1500 firing drops kernel-drops-4026531840-UNKNOWN_99 value=100",
            "6500 resolved drops kernel-drops-4026531840-NETFILTER_DROP value=50",
            "6500 resolved drops kernel-drops-4026531840-UNKNOWN_99 value=50",
        ])
        XCTAssertEqual(harness.alerts[0].message, "100 drops (20/s over 5s) of NETFILTER_DROP in netns 4026531840")
        XCTAssertEqual(harness.alerts[2].message, "50 drops (10/s over 5s) of NETFILTER_DROP in netns 4026531840")
        XCTAssertEqual(evidenceText(harness.alerts[0]), [
            "drops=100", "netns=4026531840", "rate=20", "reason=NETFILTER_DROP", "window=5",
        ])
        XCTAssertEqual(harness.alerts.map(\.pid), [0, 0, 0, 0])
    }

    func testAlertsWhoseSubjectLeavesTheGraphResolve() throws {
        let yaml = """
        rules:
          - rule: waiting
            description: any WaitsOn edge
            on: waits_on_network
            condition: connections >= 1
            severity: info
            message: "task {pid} retransmitted {retransmits}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([
            retransmit(pid: 100, at: 1000, segments: 3),
            retransmit(pid: 200, at: 1100, cookie: 2, peer: 3),
            processExit(pid: 100, at: 2100),
        ])
        harness.run(until: 10_000)
        // No `value:`: the first field the rule reads (connections).
        XCTAssertEqual(harness.summary(), [
            "1250 firing waiting network-pid-100 value=1",
            "1250 firing waiting network-pid-200 value=1",
            "2250 resolved waiting network-pid-100 value=1",
            "6250 resolved waiting network-pid-200 value=1",
        ])
        XCTAssertEqual(harness.alerts.map(\.message), [
            "task 100 retransmitted 3",
            "task 200 retransmitted 1",
            "waiting no longer holds for network-pid-100",
            "waiting no longer holds for network-pid-200",
        ])
        XCTAssertEqual(harness.alerts.map(\.pid), [100, 200, 100, 200])
        // The subject is gone: its last known figures.
        XCTAssertEqual(harness.alerts[2].value, .number(1))
        XCTAssertFalse(harness.alerts[2].evidence.isEmpty)
        XCTAssertEqual(harness.alerts[2].onset, ms(1250))
    }

    // A resolved line for a connection that left the graph says pid 0 (the
    // fallback `AlertEntity.pid` has no pid for connections), while the
    // firing line of the same alert said the owner's pid.
    func testresolvedAlertOfAConnectionThatLeftTheGraphKeepsItsPid() throws {
        let yaml = """
        rules:
          - rule: conn
            description: any connection
            on: connection
            condition: sport > 0
            severity: info
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([
            rto(pid: 100, at: 1000, cookie: 7),
            congestion(pid: 100, at: 1100, cookie: 7, to: .open, from: .loss),
        ])
        harness.run(until: 8000)
        XCTAssertEqual(harness.summary(), [
            "1250 firing conn connection-7 value=40000",
            "6250 resolved conn connection-7 value=40000",
        ])
        XCTAssertEqual(harness.alerts.map(\.pid), [100, 100])
    }
}

final class EngineBoundsTests: XCTestCase {
    /// One retransmission for each of pids 1...count, 50 µs apart from
    /// `milliseconds` (4106 of them fit before the first 250 ms tick).
    static func flood(_ count: Int, at milliseconds: UInt64, firstPid: UInt32 = 1) -> [ProbeEvent] {
        (firstPid..<firstPid + UInt32(count)).map { pid in
            var event = retransmit(pid: pid, at: milliseconds, cookie: UInt64(pid))
            event.monotonicNanoseconds += UInt64(pid - firstPid + 1) * 50_000
            return event
        }
    }

    /// An event rule on kernel drops whose aggregate counts every event of
    /// the process: retransmissions only feed the aggregate (they are not
    /// the rule's subject), which tracks an entity without evaluating it.
    static let dropsRule = """
    rules:
      - rule: repeat
        description: two events of a process, the last a kernel drop
        on: transport.kernel_drop
        condition: count(5s) >= 2
        value: count(5s)
        severity: info
        message: "{pid}"
    """

    func testAFloodOfEntitiesForgetsTheLeastRecentlySeenAndCountsThem() throws {
        let limit = RuleEngine.maximumEntitiesPerRule
        XCTAssertEqual(limit, 4096)
        let harness = try EngineHarness(Self.dropsRule)
        harness.appliesToGraph = false
        harness.feed(Self.flood(limit + 10, at: 1000))
        XCTAssertEqual(harness.engine.forgottenEntities, 10)
        // pid 1 was forgotten: its count starts over. The last pid was not.
        harness.feed(kernelDrop(at: 1220, reason: 5, pid: 1))
        harness.feed(kernelDrop(at: 1220, reason: 5, pid: UInt32(limit + 10)))
        XCTAssertEqual(harness.summary(), ["1220 firing repeat network-pid-4106 value=2"])
        XCTAssertEqual(harness.engine.forgottenEntities, 11, "re-tracking pid 1 forgot the next oldest")
    }

    func testIdleEntitiesAreForgottenOnceTheirWindowsEmpty() throws {
        // Ticks every 5 s: at 5 s the windows still hold the flood, at 10 s not.
        let harness = EngineHarness(rules: try loadEngineRules(Self.dropsRule), tickNanoseconds: 5 * secondNanoseconds)
        harness.appliesToGraph = false
        harness.feed(Self.flood(4090, at: 1000))
        harness.run(until: 5000)
        harness.feed(Self.flood(10, at: 5100, firstPid: 4091))
        XCTAssertEqual(harness.engine.forgottenEntities, 4, "4100 entities, 4096 fit")
        harness.run(until: 10_000)
        harness.feed(Self.flood(4096, at: 11_000, firstPid: 5001))
        XCTAssertEqual(harness.engine.forgottenEntities, 4, "all were forgotten at the 10 s tick: 4096 fit again")
        XCTAssertEqual(harness.alerts.count, 0)
    }

    // RuleEngine.observe (RuleEngine.swift, `if isSubject { _ = makeRoom(in: index) }`):
    // for an event of the rule's own subject, `makeRoom` returning false
    // (every tracked entity is pending or firing) is ignored and the entity
    // is tracked anyway, beyond the bound, although `forgottenEntities`
    // counts it as not tracked. A flood of firing entities grows the
    // engine's memory without limit.
    func testentityStateStaysBoundedWhenEveryEntityIsActive() throws {
        let yaml = """
        rules:
          - rule: any
            description: any retransmission
            on: transport.drop
            condition: segments >= 1
            severity: info
            message: "{pid}"
        """
        let limit = RuleEngine.maximumEntitiesPerRule
        let harness = try EngineHarness(yaml)
        harness.appliesToGraph = false
        harness.feed(Self.flood(limit + 10, at: 1000))
        XCTAssertEqual(harness.engine.forgottenEntities, 10)
        XCTAssertEqual(harness.alerts.count, limit,
                       "at most \(limit) entities are tracked, so at most \(limit) alerts fire")
    }

    // RuleEngine.forgetIdle (RuleEngine.swift, `value(at: time) == 0 || isEmpty`)
    // takes a window whose value is 0 for an empty one. For max, min and
    // avg a 0 is a real value of events still in the window: the entity is
    // forgotten at the tick, those events are lost, and the average jumps.
    func testavgOverZerosIsNotForgottenAtATick() throws {
        let yaml = """
        rules:
          - rule: backing-off
            description: the average backoff is high
            on: transport.drop
            condition: avg(backoff, 5s) >= 2
            value: avg(backoff, 5s)
            severity: info
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([
            retransmit(pid: 100, at: 1000, backoff: 0),
            retransmit(pid: 100, at: 1100, backoff: 0),
            retransmit(pid: 100, at: 1200, backoff: 0),
            // The 1.25 s tick runs before this event.
            retransmit(pid: 100, at: 1300, backoff: 3),
        ])
        XCTAssertEqual(harness.summary(), [], "avg(backoff) is (0 + 0 + 0 + 3) / 4 = 0.75, not 3")
    }

    // RuleEngine.update (RuleEngine.swift, `let prepared = rules[index]`)
    // keeps a second reference to the rule's entity dictionary while
    // `rules[index].entities[entity]!.lifecycle.update(…)` mutates it, so
    // every evaluation copies the whole dictionary: a tick over N graph
    // instances costs O(N²) (measured in a debug build: 250 edges 23 ms,
    // 1000 edges 115 ms, 4000 edges 1.1 s — for one 250 ms tick).
    func testaTickCostsTimeLinearInTheInstances() throws {
        let rules = try loadEngineRules("""
        rules:
          - rule: stalled
            description: two RTOs
            on: waits_on_network
            condition: rtos >= 2
            severity: info
            message: "{pid}"
        """)
        func tickNanoseconds(processes: Int) -> UInt64 {
            var graph = StateGraph()
            var changes: [GraphChange] = []
            for pid in 1...UInt32(processes) {
                graph.apply(retransmit(pid: pid, at: 1000, cookie: UInt64(pid)), changes: &changes)
            }
            var best = UInt64.max
            for _ in 0..<2 {
                let engine = RuleEngine(rules: rules, dropReasonNames: [:])
                var alerts: [Alert] = []
                let start = DispatchTime.now().uptimeNanoseconds
                engine.evaluate(graph: graph, at: ms(1250), alerts: &alerts)
                best = min(best, DispatchTime.now().uptimeNanoseconds - start)
            }
            return best
        }
        let small = tickNanoseconds(processes: 250)
        let large = tickNanoseconds(processes: 4000)
        let ratio = Double(large) / Double(max(small, 1))
        // 16 times the instances: about 16 times the time if linear, 256 if quadratic.
        XCTAssertLessThan(ratio, 32, "250 edges: \(small / 1000) µs, 4000 edges: \(large / 1000) µs")
    }

    // EventFields.value returns `segments` (and `value`) 1 for every event
    // that is not a retransmission, so `sum(segments, …)` over a process's
    // events counts each congestion-state change as a retransmitted
    // segment. A congestion change carries no segments: it should be
    // skipped ("events without the field are skipped").
    func testsumOfSegmentsCountsCongestionChangesAsSegments() throws {
        let yaml = """
        rules:
          - rule: segments
            description: five segments retransmitted
            on: transport.drop
            condition: sum(segments, 5s) >= 5
            value: sum(segments, 5s)
            severity: info
            message: "{pid}"
        """
        let harness = try EngineHarness(yaml)
        harness.feed([
            retransmit(pid: 100, at: 1000, segments: 2),
            congestion(pid: 100, at: 1100, to: .recovery, from: .open),
            retransmit(pid: 100, at: 1200, segments: 2),
        ])
        XCTAssertEqual(harness.summary(), [], "2 + 2 segments retransmitted, not 5")
    }
}
