import ProbeEvents
import WorkloadIdentity
@testable import RuleLanguage
@testable import StateGraph
import XCTest
@testable import RuleEngine

/// The rules shipped in rules/*.yaml against synthetic scenarios, with
/// the default graph (5 s window, 5 s quiet) and the agent's 100 ms ticks.
final class ShippedRulesTests: XCTestCase {
    static func shippedRules() throws -> RuleSet {
        let files = try RuleFiles.read([packageRoot + "/rules"])
        return try RuleEngine.load(files: files)
    }

    func harness() throws -> EngineHarness {
        EngineHarness(rules: try Self.shippedRules(), tickNanoseconds: 100_000_000)
    }

    /// An RTO retransmission as the kernel reports it on a LAN: RTO 200 ms
    /// (the minimum), smoothed RTT 1 ms.
    static func timedRTO(pid: UInt32, at milliseconds: UInt64, cookie: UInt64, peer: UInt8 = 2,
                         backoff: UInt8 = 0) -> ProbeEvent {
        var event = rto(pid: pid, at: milliseconds, cookie: cookie, peer: peer, backoff: backoff)
        event.retransmitTimeoutMicroseconds = 200_000
        event.smoothedRTTMicroseconds = 1000
        return event
    }

    /// A path that goes dead at `start` and comes back at `end`: RTOs with
    /// backoff from one RTO after the onset, and Loss left once the first
    /// retransmission after `end` is acknowledged.
    static func blackhole(pid: UInt32, from start: UInt64, to end: UInt64, cookie: UInt64, peer: UInt8 = 2) -> [ProbeEvent] {
        var events: [ProbeEvent] = []
        var wait: UInt64 = 200, time = start + wait, backoff: UInt8 = 0
        while time < end {
            events.append(timedRTO(pid: pid, at: time, cookie: cookie, peer: peer, backoff: backoff))
            wait *= 2
            backoff += 1
            time += wait
        }
        events.append(timedRTO(pid: pid, at: time, cookie: cookie, peer: peer, backoff: backoff))
        events.append(congestion(pid: pid, at: time + 1, cookie: cookie, peer: peer, to: .open, from: .loss))
        return events
    }

    /// A busy flow with light, healthy loss: three fast retransmits a
    /// second (2 segments each), in and out of Recovery.
    static func healthyFlow(pid: UInt32, from start: UInt64, to end: UInt64, cookie: UInt64, peer: UInt8) -> [ProbeEvent] {
        var events: [ProbeEvent] = []
        for second in stride(from: start, to: end, by: 1000) {
            events.append(congestion(pid: pid, at: second, cookie: cookie, peer: peer, to: .recovery, from: .open))
            for offset in [10, 340, 670] as [UInt64] {
                events.append(retransmit(pid: pid, at: second + offset, cookie: cookie, peer: peer, segments: 2))
            }
            events.append(congestion(pid: pid, at: second + 900, cookie: cookie, peer: peer, to: .open, from: .recovery))
        }
        return events
    }

    func testTheShippedRuleFilesLoad() throws {
        let rules = try Self.shippedRules().rules
        XCTAssertEqual(rules.map(\.name), ["connection-stalled", "job-stalled", "kernel-drop-spike", "peer-fan-in",
                                          "workload-degraded", "workload-stalled"])
        XCTAssertEqual(rules.map(\.subject), ["connection", "job", "kernel_drops", "peer", "waits_on_network", "waits_on_network"])
        XCTAssertEqual(rules.map(\.forSeconds), [0, 0, 1, 0, 0, 0])
        XCTAssertEqual(rules.map(\.keepFiringSeconds), [1.5, 1.5, 5, 1.5, 1, 1.5])
        XCTAssertEqual(rules.map(\.severity), [.warning, .critical, .warning, .critical, .warning, .critical])
        XCTAssertTrue(rules.allSatisfy(\.isEnabled))
    }

    func testAHealthyBusyFlowNeverPages() throws {
        let harness = try harness()
        var events = Self.healthyFlow(pid: 100, from: 10_000, to: 40_000, cookie: 1, peer: 2)
        // One RTO alone (a lost last segment) is not a stall either.
        events.append(Self.timedRTO(pid: 100, at: 25_500, cookie: 1))
        events.append(congestion(pid: 100, at: 25_501, cookie: 1, to: .open, from: .loss))
        harness.feedSorted(events)
        harness.run(until: 50_000)
        XCTAssertEqual(harness.summary(), [])
        XCTAssertEqual(harness.graph.processes.count, 0, "the edge expired after the flow ended")
    }

    /// A 3 s blackhole from 10 s: RTOs at 10.2, 10.6, 11.4 and 13.0 s, the
    /// last one acknowledged. Blocked since 10.0 s, 600 ms of the last
    /// second at 10.6 s: the 10.6 s tick pages (ticks run before the events
    /// of their moment: it has seen one RTO). The spell ends at 13.001 s;
    /// the last second holds 600 ms of it until the 13.3 s tick, then
    /// keep_firing_for 1.5 s: resolved 1.8 s after the recovery.
    func testABlackholePagesWithinASecondAndResolvesWithinTwoOfTheRecovery() throws {
        let harness = try harness()
        var events = Self.blackhole(pid: 100, from: 10_000, to: 13_000, cookie: 1)
        events += Self.healthyFlow(pid: 200, from: 5000, to: 40_000, cookie: 2, peer: 3)
        harness.feedSorted(events)
        harness.run(until: 45_000)
        XCTAssertEqual(harness.summary(), [
            "10600 firing connection-stalled connection-1 value=0.6",
            "10600 firing workload-stalled network-pid-100 value=0.6",
            "11000 firing workload-degraded network-pid-100 value=0.2",
            "14800 resolved connection-stalled connection-1 value=0",
            "14800 resolved workload-degraded network-pid-100 value=0.6",
            "14800 resolved workload-stalled network-pid-100 value=0",
        ])
        let firing = harness.alerts[1]
        XCTAssertEqual(firing.onset, ms(10_600))
        XCTAssertEqual(firing.message,
                       "task 100 (trainer) is stalled by the network: blocked 0.6s of the last second and 0.6s of "
                       + "the last 5s on loss recovery with peer 10.0.0.2 (1 RTO timeouts, 1 segments "
                       + "retransmitted, backoff 0)")
        XCTAssertEqual(firing.labels, [RuleLabel(name: "category", value: "network")])
        XCTAssertEqual(firing.severity, .critical)
        XCTAssertFalse(harness.alerts.contains { $0.pid == 200 }, "never blames the bystander")
    }

    /// A job of four ranks on this node (pids 100-103; 104 is rank 1's
    /// data loader, with its rank's environment), rank 2 blackholed; a
    /// second job whose rank is healthy.
    func testAStalledRankPagesItsJobNamingTheRankAndTheRanksThatWait() throws {
        let harness = try harness()
        func torchrun(_ rank: UInt32) -> WorkloadIdentity {
            var identity = WorkloadIdentity()
            identity.launcher.rank = rank
            identity.launcher.worldSize = 8
            identity.launcher.runID = "llama-7b"
            return identity
        }
        for (pid, rank) in [(100, 0), (101, 1), (102, 2), (103, 3), (104, 1)] as [(UInt32, UInt32)] {
            harness.graph.identify(pid, as: torchrun(rank), command: Command("python3"))
        }
        var other = WorkloadIdentity()
        other.cgroup.slurmJob = 77
        other.launcher.rank = 0
        harness.graph.identify(200, as: other, command: Command("trainer"))
        var events = Self.blackhole(pid: 102, from: 10_000, to: 13_000, cookie: 1, peer: 9)
        events += Self.healthyFlow(pid: 200, from: 5000, to: 40_000, cookie: 2, peer: 3)
        harness.feedSorted(events)
        harness.run(until: 30_000)
        XCTAssertEqual(harness.summary(rule: "job-stalled"), [
            "10600 firing job-stalled job-run:llama-7b value=0.6",
            "14800 resolved job-stalled job-run:llama-7b value=0",
        ])
        let firing = harness.alerts.first { $0.rule == "job-stalled" }!
        XCTAssertEqual(firing.pid, 0, "one alert for the job, whichever rank is the culprit")
        XCTAssertEqual(firing.message,
                       "job run:llama-7b is stalled by the network on this node: rank 2 (task 102, python3) is blocked "
                       + "on peer 10.0.0.9 (10.0.0.1:40000 -> 10.0.0.9:29500; 1 RTO timeouts in the last 5s, blocked 0.6s "
                       + "of the last second); 1 of 4 ranks here stalled (2), ranks waiting: 0-1, 3")
        let evidence = Dictionary(uniqueKeysWithValues: firing.evidence.map { ($0.name, $0.value) })
        XCTAssertEqual(evidence["culprit_rank"], .number(2))
        XCTAssertEqual(evidence["world_size"], .number(8))
        XCTAssertEqual(evidence["rank_list"], .string("0-3"))
        XCTAssertEqual(evidence["blocked_ranks"], .number(1))
        XCTAssertFalse(harness.alerts.contains { $0.entity == .job("slurm:77") }, "the healthy job is never paged")
        harness.graph.forgetIdentity(102)
        XCTAssertEqual(JobInstance.all(in: harness.graph, at: ms(30_000)).first?.value("rank_list"), .string("0-1, 3"),
                       "a process that exited leaves its job")
    }

    func testThreeProcessesStalledOnOnePeerIsAFanIn() throws {
        let harness = try harness()
        var events: [ProbeEvent] = []
        for (pid, start) in [(100, 10_000), (101, 10_100), (102, 10_200)] as [(UInt32, UInt64)] {
            events += Self.blackhole(pid: pid, from: start, to: 13_000, cookie: UInt64(pid), peer: 9)
        }
        // Stalled alone on another peer: not a fan-in.
        events += Self.blackhole(pid: 103, from: 10_000, to: 13_000, cookie: 103, peer: 8)
        harness.feedSorted(events)
        harness.run(until: 30_000)
        XCTAssertEqual(harness.summary(rule: "peer-fan-in"), [
            "10700 firing peer-fan-in peer-10.0.0.9 value=2",
            "14900 resolved peer-fan-in peer-10.0.0.9 value=0",
        ])
        let firing = harness.alerts.first { $0.rule == "peer-fan-in" }!
        XCTAssertEqual(firing.message, "2 processes are stalled on peer 10.0.0.9 (3 waiting, 3 blocked now, the "
                       + "longest for 0.7s): 4 segments retransmitted and 4 RTO timeouts in the last 5s")
        XCTAssertEqual(Set(harness.alerts.filter { $0.rule == "workload-stalled" && $0.state == .firing }.map(\.pid)),
                       [100, 101, 102, 103])
    }

    /// A fifth of the time lost, but never most of a second: degraded, not stalled.
    func testRepeatedSingleTimeoutsAreDegradedNotStalled() throws {
        let harness = try harness()
        var events: [ProbeEvent] = []
        for time in stride(from: 10_000 as UInt64, to: 20_000, by: 700) {
            events.append(Self.timedRTO(pid: 100, at: time, cookie: 1))
            events.append(congestion(pid: 100, at: time + 2, cookie: 1, to: .open, from: .loss))
        }
        harness.feedSorted(events)
        harness.run(until: 30_000)
        // 200 ms of every 700 ms: 0.29 of the window once it has filled, and
        // 200 ms of the last second; resolved a second after 100 ms of the
        // last second no longer holds (the last spell ends at 19.8 s).
        XCTAssertEqual(harness.summary(), [
            "12900 firing workload-degraded network-pid-100 value=0.202",
            "21600 resolved workload-degraded network-pid-100 value=0.202",
        ])
    }

    func testAKernelDropSpikeOfOneReason() throws {
        let harness = try harness()
        var events = stride(from: 1000 as UInt64, to: 11_000, by: 10).map { kernelDrop(at: $0, reason: 5) }
        events += stride(from: 1000 as UInt64, to: 11_000, by: 100).map { kernelDrop(at: $0, reason: 7) }
        harness.feedSorted(events)
        harness.run(until: 25_000)
        // 100 drops/s: rate >= 50 over 5 s from the 3.5 s tick, for 1 s;
        // last held at 13.4 s, plus keep_firing_for 5 s.
        XCTAssertEqual(harness.summary(), [
            "4500 firing kernel-drop-spike kernel-drops-4026531840-NETFILTER_DROP value=70",
            "18400 resolved kernel-drop-spike kernel-drops-4026531840-NETFILTER_DROP value=50",
        ])
        XCTAssertEqual(harness.alerts[0].message, "the kernel dropped 350 TCP packets in the last 5s in network "
                       + "namespace 4026531840, reason NETFILTER_DROP")
        XCTAssertEqual(harness.alerts[0].onset, ms(3500))
        XCTAssertEqual(harness.alerts[1].message,
                       "kernel-drop-spike no longer holds for kernel-drops-4026531840-NETFILTER_DROP")
    }
}
