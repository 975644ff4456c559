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

    /// Runs of constant keys are written whole; no text is made on the way.
    /// `identity`: the process's identity fields, after its comm.
    public func encode(_ change: GraphChange, identity: [UInt8] = [], into line: inout JSONLineWriter) {
        line.appendRaw("{\"ts\":")
        line.appendUnsigned(clock.milliseconds(monotonicNanoseconds: change.time))
        switch change.kind {
        case .added: line.appendRaw(",\"event_type\":\"graph.edge_added\",\"entity_id\":\"")
        case .updated: line.appendRaw(",\"event_type\":\"graph.edge_updated\",\"entity_id\":\"")
        case .removed: line.appendRaw(",\"event_type\":\"graph.edge_removed\",\"entity_id\":\"")
        }
        Self.append(change.target, to: &line)
        line.appendRaw("\",\"pid\":")
        line.appendUnsigned(UInt64(change.pid))
        line.appendRaw(",\"value\":\"waits_on\",\"from\":\"process-pid-")
        line.appendUnsigned(UInt64(change.pid))
        line.appendRaw("\",\"to\":\"")
        Self.append(change.target, to: &line)
        line.appendRaw("\",\"comm\":")
        line.appendString(change.command)
        line.appendFields(identity)
        line.appendRaw(",\"peer\":\"")
        line.appendAddress(change.peer)
        let figures = change.figures
        line.appendRaw("\",\"retransmit_rate\":")
        line.appendNumber(figures.retransmitRate)
        line.appendRaw(",\"retransmits\":")
        line.appendUnsigned(figures.retransmits)
        line.appendRaw(",\"rtos\":")
        line.appendUnsigned(figures.timeouts)
        line.appendRaw(",\"failed\":")
        line.appendUnsigned(figures.failures)
        line.appendRaw(",\"backoff\":")
        line.appendUnsigned(UInt64(figures.backoff))
        line.appendRaw(",\"connections\":")
        line.appendUnsigned(UInt64(figures.connections))
        line.appendRaw(",\"window_s\":")
        line.appendNumber(figures.windowSeconds)
        line.appendRaw(",\"since\":")
        line.appendUnsigned(clock.milliseconds(monotonicNanoseconds: change.since))
        line.appendRaw(",\"held_s\":")
        line.appendNumber(figures.heldSeconds)
        line.appendRaw(",\"blocked_s\":")
        line.appendNumber(figures.blockedSeconds)
        line.appendRaw(",\"blocked_for_s\":")
        line.appendNumber(figures.blockedForSeconds)
        if case .removed(let reason) = change.kind {
            switch reason {
            case .quiet: line.appendRaw(",\"reason\":\"quiet\"")
            case .processExit: line.appendRaw(",\"reason\":\"process-exit\"")
            case .evicted: line.appendRaw(",\"reason\":\"evicted\"")
            }
        }
        line.appendRaw(",\"ktime_ns\":")
        line.appendUnsigned(change.time)
        line.appendRaw("}\n")
    }

    /// The entity's id (`Entity.description`), written in place.
    private static func append(_ entity: Entity, to line: inout JSONLineWriter) {
        switch entity {
        case .process(let pid):
            line.appendRaw("process-pid-")
            line.appendUnsigned(UInt64(pid))
        case .network(let pid):
            line.appendRaw("network-pid-")
            line.appendUnsigned(UInt64(pid))
        case .peer(let address):
            line.appendRaw("peer-")
            line.appendAddress(address)
        case .connection(let cookie):
            line.appendRaw("connection-")
            line.appendUnsigned(cookie)
        }
    }
}
