import ProbeEvents
import XCTest
@testable import StateGraph

/// The graph line encoder writes runs of keys whole; it must write what
/// the key-by-key writer writes, for every kind of change and target.
final class GraphLineTests: XCTestCase {
    let clock = WallClock(offsetNanoseconds: 1_710_000_000_000_000_000)

    /// The lines as first written, one `field` at a time.
    func reference(_ change: GraphChange) -> String {
        var line = JSONLineWriter()
        line.beginObject()
        line.field("ts", clock.milliseconds(monotonicNanoseconds: change.time))
        switch change.kind {
        case .added: line.field("event_type", plain: EventType.edgeAdded)
        case .updated: line.field("event_type", plain: EventType.edgeUpdated)
        case .removed: line.field("event_type", plain: EventType.edgeRemoved)
        }
        line.field("entity_id", change.target.description)
        line.field("pid", UInt64(change.pid))
        line.field("value", plain: "waits_on")
        line.field("from", prefix: "process-pid-", number: UInt64(change.pid))
        line.field("to", change.target.description)
        line.field("comm", change.command)
        line.field("peer", change.peer)
        let figures = change.figures
        line.field("retransmit_rate", figures.retransmitRate)
        line.field("retransmits", figures.retransmits)
        line.field("rtos", figures.timeouts)
        line.field("failed", figures.failures)
        line.field("backoff", UInt64(figures.backoff))
        line.field("connections", UInt64(figures.connections))
        line.field("window_s", figures.windowSeconds)
        line.field("since", clock.milliseconds(monotonicNanoseconds: change.since))
        line.field("held_s", figures.heldSeconds)
        line.field("blocked_s", figures.blockedSeconds)
        line.field("blocked_for_s", figures.blockedForSeconds)
        if case .removed(let reason) = change.kind { line.field("reason", reason.rawValue) }
        line.field("ktime_ns", change.time)
        line.endLine()
        return String(decoding: line.bytes, as: UTF8.self)
    }

    func testEveryChangeIsWrittenAsTheKeyByKeyWriterWouldWriteIt() {
        let v6 = IPAddress(bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c])
        let kinds: [GraphChange.Kind] = [.added, .updated, .removed(.quiet), .removed(.processExit), .removed(.evicted)]
        let targets: [Entity] = [.network(pid: 4242), .peer(IPAddress(ipv4: 10, 1, 22, 133)), .peer(v6),
                                 .process(7), .connection(123_456_789)]
        let commands = [Command("torchrun"), Command("a\"b\\c"), Command(bytes: [0xff, 0x41]), Command("")]
        let figures = [
            EdgeFigures(retransmitRate: 36.8, retransmits: 184, timeouts: 3, failures: 2, backoff: 5, connections: 12,
                        windowSeconds: 5, heldSeconds: 1.096, quietSeconds: 0.25, blockedSeconds: 2.75, blockedForSeconds: 1.5),
            EdgeFigures(retransmitRate: 0, retransmits: 0, timeouts: 0, failures: 0, backoff: 0, connections: 0,
                        windowSeconds: 2.5, heldSeconds: 0, quietSeconds: 0),
            EdgeFigures(retransmitRate: .nan, retransmits: .max, timeouts: 1, failures: 1, backoff: 255, connections: 64,
                        windowSeconds: 0.001, heldSeconds: 1e20, quietSeconds: .infinity),
        ]
        var count = 0
        for kind in kinds {
            for (index, target) in targets.enumerated() {
                for command in commands {
                    for figure in figures {
                        let change = GraphChange(
                            kind: kind, time: 3_335_750_000_000 + UInt64(count), pid: 21166 + UInt32(index), command: command,
                            target: target, since: 3_334_000_000_000, peer: index == 2 ? v6 : IPAddress(ipv4: 10, 251, 0, 2),
                            figures: figure)
                        var line = JSONLineWriter(capacity: 64)
                        GraphLineEncoder(clock: clock).encode(change, into: &line)
                        XCTAssertEqual(String(decoding: line.bytes, as: UTF8.self), reference(change))
                        count += 1
                    }
                }
            }
        }
        XCTAssertEqual(count, 300)
    }
}
