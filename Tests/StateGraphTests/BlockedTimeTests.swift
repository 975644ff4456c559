import ProbeEvents
import XCTest
@testable import StateGraph

/// Blocked time against spells whose length is known by construction.
final class BlockedTimeTests: XCTestCase {
    var graph = StateGraph()
    var changes: [GraphChange] = []

    func timed(_ event: ProbeEvent, srtt: UInt32 = 1_000, rto: UInt32 = 300_000) -> ProbeEvent {
        var event = event
        event.smoothedRTTMicroseconds = srtt
        event.retransmitTimeoutMicroseconds = rto
        return event
    }
    func apply(_ event: ProbeEvent) { graph.apply(event, changes: &changes) }
    func advance(_ seconds: Double) { graph.advance(to: UInt64(seconds * 1e9), changes: &changes) }
    func state(_ state: CongestionState, at seconds: Double, cookie: UInt64 = 1) -> ProbeEvent {
        ProbeEvent(kind: .congestionState, monotonicNanoseconds: UInt64(seconds * 1e9), owner: SocketOwner(pid: 7),
                   socketCookie: cookie, congestionState: state, previousCongestionState: .loss)
    }
    func network(at seconds: Double) -> EdgeFigures? {
        guard var edge = graph.processes[7]?.network else { return nil }
        return edge.figures(at: UInt64(seconds * 1e9))
    }

    /// An RTO at 1.3 s (RTO 300 ms): blocked since 1.0 s; the socket leaves
    /// Loss at 3.0 s: 2 s blocked.
    func testAnRTOSpellRunsFromOneRTOBeforeItUntilTheSocketLeavesLoss() throws {
        apply(timed(retransmit(pid: 7, at: 1.3, cause: .rto, state: .loss)))
        apply(timed(retransmit(pid: 7, at: 1.9, cause: .rto, state: .loss, backoff: 1)))
        XCTAssertEqual(try XCTUnwrap(network(at: 2.5)).blockedForSeconds, 1.5, accuracy: 1e-9)
        apply(state(.open, at: 3.0))
        let figures = try XCTUnwrap(network(at: 4.0))
        XCTAssertEqual(figures.blockedSeconds, 2.0, accuracy: 1e-9)
        XCTAssertEqual(figures.blockedForSeconds, 0)
        XCTAssertEqual(figures.blockedFraction, 0.4, accuracy: 1e-9)
        // The window moves on in buckets of 250 ms, as the counts do: at
        // 7.5 s it holds the buckets from 2.75 s on, so 0.25 s of the spell.
        XCTAssertEqual(try XCTUnwrap(network(at: 7.5)).blockedSeconds, 0.25, accuracy: 1e-9)
    }

    /// Without a congestion hook (5.10): the timer would have fired again
    /// 600 ms after the RTO (675 ms with the grace of an eighth, plus one
    /// RTT and 100 ms); it did not, so the retransmission was acknowledged
    /// one RTT after it left.
    func testWithoutCongestionEventsTheSpellEndsWhenTheTimerStaysQuiet() throws {
        apply(timed(retransmit(pid: 7, at: 1.3, cause: .rto, state: .loss)))
        advance(1.95)
        XCTAssertEqual(try XCTUnwrap(network(at: 1.95)).blockedForSeconds, 0.95, accuracy: 1e-9, "still blocked")
        advance(2.1)
        let figures = try XCTUnwrap(network(at: 2.1))
        XCTAssertEqual(figures.blockedForSeconds, 0)
        XCTAssertEqual(figures.blockedSeconds, 0.301, accuracy: 1e-9)
    }

    /// Two connections stalled at once cost the process the union of their spells.
    func testOverlappingConnectionsCountOnce() throws {
        apply(timed(retransmit(pid: 7, at: 1.3, cookie: 1, cause: .rto, state: .loss)))
        apply(timed(retransmit(pid: 7, at: 1.8, cookie: 2, cause: .rto, state: .loss)))
        apply(state(.open, at: 2.0, cookie: 1))
        XCTAssertGreaterThan(try XCTUnwrap(network(at: 2.2)).blockedForSeconds, 0, "connection 2 still blocked")
        apply(state(.open, at: 2.5, cookie: 2))
        XCTAssertEqual(try XCTUnwrap(network(at: 3.0)).blockedSeconds, 1.5, accuracy: 1e-9, "1.0 s to 2.5 s")
    }

    /// A fast retransmit costs the RTT either side of it, or less when the
    /// socket leaves Recovery sooner; a tail-loss probe is no loss yet.
    func testAFastRetransmitLooksBackOneRTTAndAProbeNotAtAll() throws {
        apply(timed(retransmit(pid: 7, at: 1.0, cause: .tailLossProbe, state: .open), srtt: 50_000))
        XCTAssertEqual(try XCTUnwrap(network(at: 1.5)).blockedSeconds, 0)
        apply(timed(retransmit(pid: 7, at: 2.0, cause: .fastRetransmit, state: .recovery), srtt: 50_000))
        apply(state(.open, at: 2.3))
        XCTAssertEqual(try XCTUnwrap(network(at: 3.0)).blockedSeconds, 0.1, accuracy: 1e-9, "1.95 s to 2.05 s")
        apply(timed(retransmit(pid: 7, at: 4.0, cause: .fastRetransmit, state: .recovery), srtt: 50_000))
        apply(state(.open, at: 4.02))
        XCTAssertEqual(try XCTUnwrap(network(at: 4.5)).blockedSeconds, 0.17, accuracy: 1e-9, "and 3.95 s to 4.02 s")
    }

    /// Recovery after a fast retransmit is no stall: new data still flows.
    /// A repair that stays in Recovery ends one RTT after its last fast
    /// retransmission.
    func testALongRecoveryCostsOneRTTAfterTheLastFastRetransmit() throws {
        apply(timed(retransmit(pid: 7, at: 1.0, cause: .fastRetransmit, state: .recovery), srtt: 10_000))
        apply(timed(retransmit(pid: 7, at: 1.005, cause: .fastRetransmit, state: .recovery), srtt: 10_000))
        advance(2.0)
        XCTAssertEqual(try XCTUnwrap(network(at: 2.0)).blockedSeconds, 0.025, accuracy: 1e-9, "0.99 s to 1.015 s")
    }

    /// Leaving Loss, into Recovery or Open, is progress: the RTO's
    /// retransmission was acknowledged.
    func testAnRTOSpellEndsWhenTheSocketLeavesLossForRecovery() throws {
        apply(timed(retransmit(pid: 7, at: 1.3, cause: .rto, state: .loss)))
        apply(state(.recovery, at: 1.5))
        XCTAssertEqual(try XCTUnwrap(network(at: 2.0)).blockedSeconds, 0.5, accuracy: 1e-9, "1.0 s to 1.5 s")
    }

    /// A trace recorded before srtt_us/rto_us existed: spells start at the
    /// retransmission itself, never earlier.
    func testUnknownTimingStartsTheSpellAtTheRetransmission() throws {
        apply(retransmit(pid: 7, at: 1.0, cause: .rto, state: .loss))
        apply(state(.open, at: 1.5))
        XCTAssertEqual(try XCTUnwrap(network(at: 2.0)).blockedSeconds, 0.5, accuracy: 1e-9)
    }

    /// ...and, without congestion events either, ends once a timer at the
    /// kernel's 200 ms floor (doubled: backoff 0 becomes 1) stayed quiet:
    /// 400 ms, an eighth more and 100 ms.
    func testUnknownTimingStillEndsWhenTheTimerStaysQuiet() throws {
        apply(retransmit(pid: 7, at: 1.0, cause: .rto, state: .loss))
        advance(1.55)
        XCTAssertGreaterThan(try XCTUnwrap(network(at: 1.55)).blockedForSeconds, 0)
        advance(1.6)
        XCTAssertEqual(try XCTUnwrap(network(at: 1.6)).blockedForSeconds, 0)
    }

    /// A flow in fast recovery hundreds of times a second (2 % loss on a
    /// fast link): every short spell counts, however many there are.
    func testHundredsOfShortSpellsAllCount() throws {
        for step in 0..<500 {
            let at = 1.0 + Double(step) * 0.002
            apply(timed(retransmit(pid: 7, at: at, cause: .fastRetransmit, state: .recovery), srtt: 400))
            apply(state(.open, at: at + 0.0006))
        }
        // 500 spells of 0.4 ms (one RTT back) + 0.4 ms (one RTT on).
        XCTAssertEqual(try XCTUnwrap(network(at: 2.5)).blockedSeconds, 0.4, accuracy: 1e-6)
    }

    /// A blackhole's tail with one packet in flight: a probe 202 ms after
    /// the last progress (2 × srtt + 200 ms), then the RTO one RTO (210 ms)
    /// after the probe, as its timer was armed by it. The spell reaches
    /// back to the probe's wait, not only to the RTO's.
    func testAnRTOArmedByAProbeReachesBackToTheProbesWait() throws {
        probeThenTimeout(probeAt: 1.21, packetsOut: 1, timeoutAt: 1.42)
        XCTAssertEqual(try XCTUnwrap(network(at: 2.5)).blockedSeconds, 0.992, accuracy: 1e-6, "1.008 s to 2.0 s")
    }

    /// A tail-loss probe, an RTO (srtt 1 ms, RTO 210 ms), Loss left at 2 s.
    func probeThenTimeout(probeAt: Double, packetsOut: UInt8, timeoutAt: Double) {
        var probe = timed(retransmit(pid: 7, at: probeAt, cause: .tailLossProbe, state: .open), srtt: 1_000, rto: 210_000)
        probe.packetsOut = packetsOut
        apply(probe)
        apply(timed(retransmit(pid: 7, at: timeoutAt, cause: .rto, state: .loss), srtt: 1_000, rto: 210_000))
        apply(state(.open, at: 2.0))
    }

    /// An RTO long after a probe (an ACK moved the timer) looks back one RTO only.
    func testAnRTOLongAfterAProbeLooksBackOneRTO() throws {
        probeThenTimeout(probeAt: 1.0, packetsOut: 0, timeoutAt: 1.5)
        XCTAssertEqual(try XCTUnwrap(network(at: 2.5)).blockedSeconds, 0.71, accuracy: 1e-6, "1.29 s to 2.0 s")
    }

    /// With more packets in flight the probe waited 2 × srtt + 10 ms.
    func testAProbeWithSeveralPacketsInFlightWaitedLess() throws {
        probeThenTimeout(probeAt: 1.012, packetsOut: 45, timeoutAt: 1.222)
        XCTAssertEqual(try XCTUnwrap(network(at: 2.5)).blockedSeconds, 1.0, accuracy: 1e-6, "1.0 s to 2.0 s")
    }
}

/// The union of an edge's spells does not depend on the order in which
/// their ends are learnt (the graph learns several in one tick, in hash order).
final class EdgeBlockingOrderTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func blocked(endingFirst first: (UInt64, UInt64), then second: (UInt64, UInt64)) -> UInt64 {
        var edge = EdgeBlocking(windowSeconds: 5)
        edge.connection(1, blockedSince: 10 * self.second)
        edge.connection(2, blockedSince: 10 * self.second + self.second / 2)
        edge.connection(first.0, unblockedAt: first.1)
        edge.connection(second.0, unblockedAt: second.1)
        return edge.blockedNanoseconds(at: 13 * self.second)
    }

    func testTheSpellEndsWithTheLastConnectionWhicheverEndIsLearntFirst() {
        // Connection 1 blocked 10.0 -> 12.0, connection 2 10.5 -> 11.0: 2 s.
        let oneFirst = blocked(endingFirst: (1, 12 * second), then: (2, 11 * second))
        let twoFirst = blocked(endingFirst: (2, 11 * second), then: (1, 12 * second))
        XCTAssertEqual(oneFirst, 2 * second)
        XCTAssertEqual(twoFirst, 2 * second)
    }
}
