import ProbeEvents

extension EventType {
    public static let edgeAdded: StaticString = "graph.edge_added"
    public static let edgeUpdated: StaticString = "graph.edge_updated"
    public static let edgeRemoved: StaticString = "graph.edge_removed"
}

/// Writes graph changes as JSONL, so Ark receives the correlation ready-made:
/// `entity_id` is the edge's target (`network-pid-<pid>` or `peer-<addr>`),
/// `from`/`to` name both ends, and the edge's figures follow.
public struct GraphLineEncoder {
    public let clock: WallClock

    public init(clock: WallClock) {
        self.clock = clock
    }

    public func encode(_ change: GraphChange, into line: inout JSONLineWriter) {
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
        if case .removed(let reason) = change.kind { line.field("reason", reason.rawValue) }
        line.field("ktime_ns", change.time)
        line.endLine()
    }
}
