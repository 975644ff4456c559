import ProbeEvents
import XCTest
@testable import StateGraph

let second: UInt64 = 1_000_000_000

func retransmit(pid: UInt32, at seconds: Double, cookie: UInt64 = 1, peer: UInt8 = 2, segments: UInt32 = 1,
                cause: RetransmitCause = .fastRetransmit, state: CongestionState = .recovery,
                error: Int32 = 0, backoff: UInt8 = 0) -> ProbeEvent {
    ProbeEvent(kind: .retransmit, monotonicNanoseconds: UInt64(seconds * 1e9),
               owner: SocketOwner(pid: pid, tid: pid, command: Command("trainer"), source: .socket),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, peer), remotePort: 29500,
                                      state: .established),
               socketCookie: cookie, segments: segments, error: error, cause: cause,
               congestionState: state, backoff: backoff)
}

final class StateGraphTests: XCTestCase {
    var graph = StateGraph()
    var changes: [GraphChange] = []

    func apply(_ event: ProbeEvent) { graph.apply(event, changes: &changes) }
    func advance(_ seconds: Double) { graph.advance(to: UInt64(seconds * 1e9), changes: &changes) }

    func summary() -> [String] {
        defer { changes.removeAll() }
        return changes.map { change in
            let kind: String
            switch change.kind {
            case .added: kind = "added"
            case .updated: kind = "updated"
            case .removed(let reason): kind = "removed(\(reason.rawValue))"
            }
            return "\(kind) \(change.pid)->\(change.target) retransmits=\(change.figures.retransmits) rtos=\(change.figures.timeouts)"
        }
    }

    func testFirstRetransmitAddsANetworkAndAPeerEdge() {
        apply(retransmit(pid: 1024, at: 1, segments: 3))
        XCTAssertEqual(summary(), [
            "added 1024->network-pid-1024 retransmits=3 rtos=0",
            "added 1024->peer-10.0.0.2 retransmits=3 rtos=0",
        ])
        apply(retransmit(pid: 1024, at: 1.1))
        XCTAssertEqual(summary(), [])
    }

    func testEdgeFiguresCountSegmentsTimeoutsAndFailures() {
        apply(retransmit(pid: 7, at: 1, segments: 4))
        apply(retransmit(pid: 7, at: 2, segments: 1, cause: .rto, state: .loss, backoff: 1))
        apply(retransmit(pid: 7, at: 2.5, segments: 2, error: -16))
        var edge = graph.processes[7]!.network!
        let figures = edge.figures(at: 3 * second)
        XCTAssertEqual(figures.retransmits, 5)
        XCTAssertEqual(figures.timeouts, 1)
        XCTAssertEqual(figures.failures, 2)
        XCTAssertEqual(figures.retransmitRate, 1.0)  // 5 segments / 5 s window
        XCTAssertEqual(figures.backoff, 0)           // the latest event's
        XCTAssertEqual(figures.connections, 1)
        XCTAssertEqual(figures.heldSeconds, 2.0)
        XCTAssertEqual(figures.quietSeconds, 0.5)
    }

    func testUnattributedRetransmitsDoNotEnterTheGraph() {
        apply(retransmit(pid: 0, at: 1))
        XCTAssertTrue(graph.processes.isEmpty)
        XCTAssertEqual(summary(), [])
    }

    func testEdgeExpiresAtTheQuietPeriodNotBefore() {
        apply(retransmit(pid: 5, at: 10, state: .recovery))
        _ = summary()
        advance(14.999)
        XCTAssertNotNil(graph.processes[5]?.network)
        _ = summary()
        advance(15.0)
        XCTAssertEqual(summary(), [
            "removed(quiet) 5->network-pid-5 retransmits=0 rtos=0",
            "removed(quiet) 5->peer-10.0.0.2 retransmits=0 rtos=0",
        ])
        XCTAssertNil(graph.processes[5])
    }

    func testRTOBackoffHoldsTheEdgeUntilTheConnectionRecovers() {
        apply(retransmit(pid: 9, at: 10, cause: .rto, state: .loss, backoff: 3))
        _ = summary()
        advance(40)   // quiet for 30 s, but the connection is in Loss
        XCTAssertNotNil(graph.processes[9]?.network)
        _ = summary()
        apply(ProbeEvent(kind: .congestionState, monotonicNanoseconds: 41 * second,
                         owner: SocketOwner(pid: 9), socketCookie: 1, congestionState: .open,
                         previousCongestionState: .loss))
        advance(41)
        XCTAssertEqual(summary(), [
            "removed(quiet) 9->network-pid-9 retransmits=0 rtos=0",
            "removed(quiet) 9->peer-10.0.0.2 retransmits=0 rtos=0",
        ], "recovered, and quiet for longer than the quiet period")
    }

    func testBackoffHoldIsBounded() {
        apply(retransmit(pid: 9, at: 10, cause: .rto, state: .loss))
        advance(129.9)
        XCTAssertNotNil(graph.processes[9]?.network)
        advance(130)
        XCTAssertNil(graph.processes[9]?.network)
    }

    func testProcessExitRemovesItsEdgesAtOnce() {
        apply(retransmit(pid: 3, at: 1))
        apply(retransmit(pid: 3, at: 1, cookie: 2, peer: 3))
        _ = summary()
        apply(ProbeEvent(kind: .processExit, monotonicNanoseconds: 2 * second, owner: SocketOwner(pid: 3)))
        XCTAssertEqual(summary(), [
            "removed(process-exit) 3->network-pid-3 retransmits=2 rtos=0",
            "removed(process-exit) 3->peer-10.0.0.2 retransmits=1 rtos=0",
            "removed(process-exit) 3->peer-10.0.0.3 retransmits=1 rtos=0",
        ])
        XCTAssertTrue(graph.processes.isEmpty)
        XCTAssertTrue(graph.connections.isEmpty)
    }

    func testUpdatesAreReportedAtMostOncePerIntervalAndOnlyOnChange() {
        apply(retransmit(pid: 4, at: 1))
        _ = summary()
        apply(retransmit(pid: 4, at: 1.5))
        advance(1.5)
        XCTAssertEqual(summary(), [], "within the interval of the 'added' change")
        advance(2.0)
        XCTAssertEqual(summary(), [
            "updated 4->network-pid-4 retransmits=2 rtos=0",
            "updated 4->peer-10.0.0.2 retransmits=2 rtos=0",
        ])
        advance(3.5)
        XCTAssertEqual(summary(), [], "figures unchanged")
    }

    func testFanInCountsProcessesWaitingOnOnePeer() {
        for pid: UInt32 in [10, 11, 12] { apply(retransmit(pid: pid, at: 1, cookie: UInt64(pid))) }
        apply(retransmit(pid: 13, at: 1, cookie: 13, peer: 9))
        XCTAssertEqual(graph.waiters(on: IPAddress(ipv4: 10, 0, 0, 2)), 3)
        XCTAssertEqual(graph.waiters(on: IPAddress(ipv4: 10, 0, 0, 9)), 1)
        XCTAssertEqual(graph.waiters(on: IPAddress(ipv4: 10, 0, 0, 8)), 0)
    }

    func testAFloodOfProcessesStaysWithinBoundsAndCountsEvictions() {
        var configuration = GraphConfiguration()
        configuration.maximumProcesses = 100
        configuration.maximumConnections = 150
        graph = StateGraph(configuration: configuration)
        for index in 0..<10_000 {
            apply(retransmit(pid: UInt32(1000 + index), at: 1 + Double(index) * 0.0001, cookie: UInt64(index + 1)))
            changes.removeAll(keepingCapacity: true)
        }
        XCTAssertEqual(graph.processes.count, 100)
        XCTAssertEqual(graph.connections.count, 100, "an evicted process takes its connections along")
        XCTAssertEqual(graph.evictedProcesses, 9_900)
        // The survivors are the most recent ones.
        XCTAssertEqual(graph.processes.keys.min()?.pid, 10_900)
    }

    func testAFloodOfConnectionsStaysWithinBounds() {
        var configuration = GraphConfiguration()
        configuration.maximumConnections = 150
        graph = StateGraph(configuration: configuration)
        for index in 0..<10_000 {
            apply(retransmit(pid: 1, at: 1 + Double(index) * 0.0001, cookie: UInt64(index + 1)))
        }
        XCTAssertEqual(graph.connections.count, 150)
        XCTAssertEqual(graph.evictedConnections, 9_850)
        XCTAssertEqual(graph.processes[1]!.network!.connections.count, 64)
    }

    func testSameEventsGiveTheSameChanges() {
        func run() -> [String] {
            var graph = StateGraph()
            var changes: [GraphChange] = []
            for index in 0..<200 {
                let pid = UInt32(index % 7 + 1)
                graph.apply(retransmit(pid: pid, at: Double(index) * 0.1, cookie: UInt64(index % 11 + 1),
                                       peer: UInt8(index % 3 + 2)), changes: &changes)
                if index % 5 == 0 { graph.advance(to: UInt64(Double(index) * 0.1e9), changes: &changes) }
            }
            graph.advance(to: 100 * second, changes: &changes)
            return changes.map { "\($0.kind) \($0.pid) \($0.target) \($0.figures)" }
        }
        XCTAssertEqual(run(), run())
    }
}

final class SlidingWindowTests: XCTestCase {
    func testCountsWithinTheWindowAndForgetsOlderEvidence() {
        var window = SlidingWindow(seconds: 5)
        window.add(3, at: 1 * second)
        window.add(2, at: 4 * second)
        XCTAssertEqual(window.total(at: 4 * second), 5)
        XCTAssertEqual(window.total(at: 5 * second + second / 2), 5)
        XCTAssertEqual(window.total(at: 6 * second), 2, "the bucket of t=1s left the window at 6s")
        XCTAssertEqual(window.total(at: 9 * second), 0)
        XCTAssertEqual(window.rate(at: 9 * second), 0)
    }

    func testIgnoresEvidenceOlderThanTheWindow() {
        var window = SlidingWindow(seconds: 5)
        window.add(1, at: 100 * second)
        window.add(7, at: 10 * second)
        XCTAssertEqual(window.total(at: 100 * second), 1)
    }

    func testAJumpLongerThanTheWindowClearsEverything() {
        var window = SlidingWindow(seconds: 1)
        for step in 0..<20 { window.add(1, at: UInt64(step) * second / 20) }
        XCTAssertEqual(window.total(at: second - 1), 20)
        XCTAssertEqual(window.total(at: 1000 * second), 0)
    }
}
