import ProbeEvents
@testable import RuleLanguage
@testable import StateGraph
import XCTest
@testable import RuleEngine

/// The rules shipped in rules/*.yaml against synthetic scenarios, with
/// the default graph (5 s window, 5 s quiet) and 250 ms ticks.
final class ShippedRulesTests: XCTestCase {
    static func shippedRules() throws -> RuleSet {
        let files = try RuleFiles.read([packageRoot + "/rules"])
        return try RuleEngine.load(files: files)
    }

    func harness() throws -> EngineHarness {
        EngineHarness(rules: try Self.shippedRules())
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
        XCTAssertEqual(rules.map(\.name), ["connection-rto-storm", "kernel-drop-spike", "peer-fan-in", "workload-stalled"])
        XCTAssertEqual(rules.map(\.subject), ["connection", "kernel_drops", "peer", "waits_on_network"])
        XCTAssertEqual(rules.map(\.forSeconds), [0, 1, 1, 0.5])
        XCTAssertEqual(rules.map(\.keepFiringSeconds), [5, 5, 3, 3])
        XCTAssertEqual(rules.map(\.severity), [.warning, .warning, .critical, .critical])
        XCTAssertTrue(rules.allSatisfy(\.isEnabled))
    }

    func testAHealthyBusyFlowNeverPages() throws {
        let harness = try harness()
        var events = Self.healthyFlow(pid: 100, from: 10_000, to: 40_000, cookie: 1, peer: 2)
        // One RTO alone (a lost last segment) is not a stall either.
        events.append(rto(pid: 100, at: 25_500, cookie: 1))
        harness.feedSorted(events)
        harness.run(until: 50_000)
        XCTAssertEqual(harness.summary(), [])
        XCTAssertEqual(harness.graph.processes.count, 0, "the edge expired after the flow ended")
    }

    func testAStalledProcessPagesWithinTwoSecondsAndResolvesAfterTheEvidenceStops() throws {
        let harness = try harness()
        // RTOs every 300 ms from 10.0 s to 19.9 s, and a healthy bystander.
        var events = stride(from: 10_000 as UInt64, through: 19_900, by: 300).map { rto(pid: 100, at: $0, cookie: 1) }
        events += Self.healthyFlow(pid: 200, from: 5000, to: 40_000, cookie: 2, peer: 3)
        harness.feedSorted(events)
        harness.run(until: 45_000)
        XCTAssertEqual(harness.summary(), [
            "10750 firing connection-rto-storm connection-1 value=3",
            "11000 firing workload-stalled network-pid-100 value=4",
            "27250 resolved workload-stalled network-pid-100 value=0",
            "29000 resolved connection-rto-storm connection-1 value=0",
        ])
        let firing = harness.alerts[1]
        XCTAssertLessThanOrEqual(firing.time - ms(10_000), 2 * secondNanoseconds, "pages within 2 s of the first RTO")
        XCTAssertEqual(firing.onset, ms(10_500))
        XCTAssertEqual(firing.message,
                       "task 100 (trainer) is being blocked by network congestion: 4 segments retransmitted and "
                       + "4 RTO timeouts in the last 5s, backoff 1, peer 10.0.0.2, waiting for 1s")
        XCTAssertEqual(firing.labels, [RuleLabel(name: "category", value: "network")])
        XCTAssertEqual(firing.severity, .critical)
        XCTAssertFalse(harness.alerts.contains { $0.pid == 200 }, "never blames the bystander")
    }

    func testThreeProcessesStalledOnOnePeerIsAFanIn() throws {
        let harness = try harness()
        var events: [ProbeEvent] = []
        for (pid, start) in [(100, 10_000), (101, 10_100), (102, 10_200)] as [(UInt32, UInt64)] {
            events += stride(from: start, through: 15_000, by: 300).map { rto(pid: pid, at: $0, cookie: UInt64(pid), peer: 9) }
        }
        // Stalled alone on another peer: not a fan-in.
        events += stride(from: 10_000 as UInt64, through: 15_000, by: 300).map { rto(pid: 103, at: $0, cookie: 103, peer: 8) }
        harness.feedSorted(events)
        harness.run(until: 30_000)
        XCTAssertEqual(harness.summary(rule: "peer-fan-in"), [
            "11250 firing peer-fan-in peer-10.0.0.9 value=3",
            "22500 resolved peer-fan-in peer-10.0.0.9 value=0",
        ])
        let firing = harness.alerts.first { $0.rule == "peer-fan-in" }!
        XCTAssertEqual(firing.message, "3 processes are stalled on peer 10.0.0.9 (3 waiting): 13 segments "
                       + "retransmitted and 13 RTO timeouts in the last 5s")
        XCTAssertEqual(firing.onset, ms(10_250))
        XCTAssertEqual(Set(harness.alerts.filter { $0.rule == "workload-stalled" && $0.state == .firing }.map(\.pid)),
                       [100, 101, 102, 103])
    }

    func testAnRTOStormOnOneConnection() throws {
        let harness = try harness()
        var events = (0...5).map { step in
            rto(pid: 100, at: 5000 + UInt64(step) * 200, cookie: 7, backoff: UInt8(step + 1))
        }
        events.append(congestion(pid: 100, at: 7000, cookie: 7, to: .open, from: .loss, backoff: 0))
        events += Self.healthyFlow(pid: 100, from: 3000, to: 20_000, cookie: 8, peer: 2)
        harness.feedSorted(events)
        harness.run(until: 25_000)
        // Resolved 5 s (keep_firing_for) after the last tick with 3 RTOs in
        // the window (10.25 s); by then the connection has left the graph.
        XCTAssertEqual(harness.summary(rule: "connection-rto-storm"), [
            "5500 firing connection-rto-storm connection-7 value=3",
            "15250 resolved connection-rto-storm connection-7 value=3",
        ])
        XCTAssertEqual(harness.alerts.first { $0.rule == "connection-rto-storm" }!.message,
                       "connection 10.0.0.1:40000 -> 10.0.0.2:29500 of task 100 (trainer) is in an RTO storm: "
                       + "3 timeouts in the last 5s, backoff 3")
    }

    func testAKernelDropSpikeOfOneReason() throws {
        let harness = try harness()
        var events = stride(from: 1000 as UInt64, to: 11_000, by: 10).map { kernelDrop(at: $0, reason: 5) }
        events += stride(from: 1000 as UInt64, to: 11_000, by: 100).map { kernelDrop(at: $0, reason: 7) }
        harness.feedSorted(events)
        harness.run(until: 25_000)
        // 100 drops/s: rate >= 50 over 5 s from the 3.5 s tick, for 1 s;
        // last held at 13.25 s, plus keep_firing_for 5 s.
        XCTAssertEqual(harness.summary(), [
            "4500 firing kernel-drop-spike kernel-drops-4026531840-NETFILTER_DROP value=70",
            "18250 resolved kernel-drop-spike kernel-drops-4026531840-NETFILTER_DROP value=50",
        ])
        XCTAssertEqual(harness.alerts[0].message, "the kernel dropped 350 TCP packets in the last 5s in network "
                       + "namespace 4026531840, reason NETFILTER_DROP")
        XCTAssertEqual(harness.alerts[0].onset, ms(3500))
        XCTAssertEqual(harness.alerts[1].message,
                       "kernel-drop-spike no longer holds for kernel-drops-4026531840-NETFILTER_DROP")
    }
}
