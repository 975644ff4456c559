import ProbeEvents
import RuleLanguage
@testable import RuleTesting
import XCTest

/// The compact notation for events written in a test.
final class InlineEventTests: XCTestCase {
    func events(_ items: String, file: StaticString = #filePath, line: UInt = #line) throws -> [ProbeEvent] {
        let loaded = try loadTestFile("tests:\n  - name: t\n    expect_silent: [{}]\n    events:\n" + items, file: file, line: line)
        guard case .events(let events) = try XCTUnwrap(loaded.file.tests.first).input else {
            XCTFail("not inline events", file: file, line: line)
            return []
        }
        return events
    }

    func testEveryRepeatsFromAtThroughUntilInclusive() throws {
        let times = try events("      - {at: 1s, every: 250ms, until: 2s, type: transport.drop}").map(\.monotonicNanoseconds)
        XCTAssertEqual(times, [1_000_000_000, 1_250_000_000, 1_500_000_000, 1_750_000_000, 2_000_000_000])
    }

    func testUntilBetweenRepeatsStopsBeforeIt() throws {
        let times = try events("      - {at: 0s, every: 400ms, until: 1s, type: transport.drop}").map(\.monotonicNanoseconds)
        XCTAssertEqual(times, [0, 400_000_000, 800_000_000])
    }

    func testCountRepeatsThatManyTimes() throws {
        let times = try events("      - {at: 2s, every: 1m, count: 3, type: transport.drop}").map(\.monotonicNanoseconds)
        XCTAssertEqual(times, [2_000_000_000, 62_000_000_000, 122_000_000_000])
    }

    func testItemsAreMergedInTimeOrderKeepingTheWrittenOrderOfTies() throws {
        let merged = try events("""
              - {at: 1s, every: 1s, count: 2, type: transport.drop, pid: 1}
              - {at: 0s, every: 1s, count: 3, type: transport.drop, pid: 2}
        """)
        XCTAssertEqual(merged.map { "\($0.monotonicNanoseconds / 1_000_000_000):\($0.owner.pid)" }, ["0:2", "1:1", "1:2", "2:1", "2:2"])
    }

    func testARetransmitTakesItsKeysAndTheKernelsDefaults() throws {
        let event = try XCTUnwrap(events("""
              - {at: 0s, type: transport.drop, pid: 1024, comm: trainer, cause: rto, segments: 4, backoff: 2,
                 saddr: 10.0.0.1, daddr: 10.0.0.2, sport: 40000, dport: 29500, cookie: 7, netns: 9}
        """).first)
        XCTAssertEqual(event.kind, .retransmit)
        XCTAssertEqual(event.owner, SocketOwner(pid: 1024, tid: 1024, command: Command("trainer"), source: .socket))
        XCTAssertEqual(event.segments, 4)
        XCTAssertEqual(event.cause, .rto)
        XCTAssertEqual(event.congestionState, .loss, "an RTO puts the socket in Loss")
        XCTAssertEqual(event.backoff, 2)
        XCTAssertEqual(event.error, 0)
        XCTAssertEqual(event.connection, Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                                                    remoteAddress: IPAddress(ipv4: 10, 0, 0, 2), remotePort: 29500,
                                                    state: .established))
        XCTAssertEqual(event.socketCookie, 7)
        XCTAssertEqual(event.networkNamespace, 9)
    }

    func testDefaultsOfTheOtherTypes() throws {
        let all = try events("""
              - {at: 0s, type: transport.drop}
              - {at: 1s, type: transport.drop, cause: fast}
              - {at: 2s, type: transport.drop, cause: synack}
              - {at: 3s, type: transport.retransmit_failed, pid: 5}
              - {at: 4s, type: transport.retransmit_failed, error: ENOMEM}
              - {at: 5s, type: transport.congestion, ca_state: recovery, previous_ca_state: disorder}
              - {at: 6s, type: process.exit, pid: 5, exit_code: 256}
              - {at: 7s, type: transport.drop, daddr: "fe80::1"}
        """)
        XCTAssertEqual(all[0].segments, 1)
        XCTAssertEqual(all[0].cause, .other)
        XCTAssertEqual(all[0].owner.source, .none, "no pid: no owner")
        XCTAssertEqual(all[0].connection.family, .unspecified)
        XCTAssertEqual(all[1].congestionState, .recovery, "a fast retransmit happens in Recovery")
        XCTAssertEqual(all[2].kind, .synAckRetransmit)
        XCTAssertEqual(all[3].error, -16, "EBUSY unless told")
        XCTAssertEqual(all[4].error, -12)
        XCTAssertEqual(all[5].kind, .congestionState)
        XCTAssertEqual(all[5].congestionState, .recovery)
        XCTAssertEqual(all[5].previousCongestionState, .disorder)
        XCTAssertEqual(all[6].kind, .processExit)
        XCTAssertEqual(all[6].dropReason, 256)
        XCTAssertEqual(all[7].connection.family, .ipv6)
    }

    func testDropReasonsGetOneCodeEachAcrossTheFile() throws {
        let loaded = try loadTestFile("""
        tests:
          - name: a
            events:
              - {at: 0s, type: transport.kernel_drop, reason: NETFILTER_DROP}
              - {at: 1s, type: transport.kernel_drop, reason: TCP_OLD_DATA}
            expect_silent: [{}]
          - name: b
            events:
              - {at: 0s, type: transport.kernel_drop, reason: TCP_OLD_DATA}
              - {at: 1s, type: transport.kernel_drop}
            expect_silent: [{}]
        """)
        var codes: [UInt32] = []
        for test in loaded.file.tests {
            guard case .events(let events) = test.input else { continue }
            codes += events.map(\.dropReason)
        }
        XCTAssertEqual(codes, [1, 2, 2, 3])
        XCTAssertEqual(loaded.file.dropReasonNames, [1: "NETFILTER_DROP", 2: "TCP_OLD_DATA", 3: "NOT_SPECIFIED"])
    }

    func testInlineEventsGoThroughThePipelineOnItsTicks() throws {
        // An event rule fires at the event; a graph rule on the 100ms ticks,
        // which run before the events of the same moment.
        let loaded = try loadTestFile("""
        tests:
          - name: t
            events:
              - {at: 0s, every: 250ms, until: 2s, type: transport.drop, pid: 7, cause: rto, daddr: 10.0.0.2, cookie: 1}
            until: 10s
            expect_silent: [{}]
        """)
        let result = TestRunner.run(loaded.file.tests[0], in: loaded)
        let stalled = result.alerts.filter { $0.alert.rule == "stalled" }
        // The 0.3s tick sees two RTOs (at 0s and 0.25s), held 500ms: fires
        // at 0.8s. It resolves on a tick, after the RTOs have left the 5s
        // window.
        XCTAssertEqual(stalled.map(\.alert.state), [.firing, .resolved])
        XCTAssertEqual(stalled.first?.time, 800_000_000)
        let resolved = stalled.last?.time ?? 0
        XCTAssertTrue(resolved > 6_500_000_000 && resolved % 100_000_000 == 0, "resolved at \(resolved)")
        XCTAssertEqual(result.alerts.first { $0.alert.rule == "rto-seen" }?.time, 0)
    }
}
