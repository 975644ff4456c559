/// The `event_type` values of the JSONL stream written by this module.
public enum EventType {
    /// A retransmission that was sent (the seed's event); value = segments.
    public static let retransmit: StaticString = "transport.drop"
    /// A retransmission the kernel attempted but did not send; value = segments.
    public static let failedRetransmit: StaticString = "transport.retransmit_failed"
    /// A congestion-control state change; value = the new state.
    public static let congestionState: StaticString = "transport.congestion"
    /// A TCP packet dropped by the kernel; value = "1".
    public static let kernelDrop: StaticString = "transport.kernel_drop"
    /// A process that owned a TCP socket exited; value = "1".
    public static let processExit: StaticString = "process.exit"
    /// Records lost because the ring buffer was full; value = how many.
    public static let loss: StaticString = "probe.loss"
}

/// Writes probe events as JSONL in the seed's shape: `ts`, `event_type`,
/// `entity_id`, `pid`, `value` first, then the context fields.
public struct EventLineEncoder {
    public let clock: WallClock
    /// Names of the kernel's drop reasons by value (from kernel BTF, or
    /// from a trace being replayed).
    public var dropReasonNames: [UInt32: String]

    public init(clock: WallClock, dropReasonNames: [UInt32: String]) {
        self.clock = clock
        self.dropReasonNames = dropReasonNames
    }

    public func encode(_ event: ProbeEvent, into line: inout JSONLineWriter) {
        line.beginObject()
        line.field("ts", clock.milliseconds(monotonicNanoseconds: event.monotonicNanoseconds))
        line.field("event_type", plain: event.eventType)
        switch event.kind {
        case .retransmit, .synAckRetransmit, .congestionState, .drop:
            break
        case .processExit:
            line.field("entity_id", prefix: "process-pid-", number: UInt64(event.owner.pid))
            line.field("pid", UInt64(event.owner.pid))
            line.field("value", decimalString: 1)
            line.field("comm", event.owner.command)
            line.field("cgroup_id", event.owner.cgroupID)
            line.field("exit_code", UInt64(event.dropReason))
            line.field("ktime_ns", event.monotonicNanoseconds)
            line.endLine()
            return
        }
        Self.encodeEntity(of: event, into: &line)
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            line.field("value", decimalString: UInt64(event.segments))
        case .congestionState:
            line.field("value", plain: event.congestionState.name)
        case .drop, .processExit:
            line.field("value", decimalString: 1)
        }
        encodeContext(of: event, into: &line)
        line.endLine()
    }

    /// `entity_id` and `pid`: the network as seen by the owning process, or
    /// by the network namespace when no owner is known (pid 0).
    static func encodeEntity(of event: ProbeEvent, into line: inout JSONLineWriter) {
        if event.owner.pid != 0 {
            line.field("entity_id", prefix: "network-pid-", number: UInt64(event.owner.pid))
        } else {
            line.field("entity_id", prefix: "network-netns-", number: UInt64(event.networkNamespace))
        }
        line.field("pid", UInt64(event.owner.pid))
    }

    private func encodeContext(of event: ProbeEvent, into line: inout JSONLineWriter) {
        let owner = event.owner
        if owner.pid != 0 {
            line.field("tid", UInt64(owner.tid))
            line.field("comm", owner.command)
            line.field("uid", UInt64(owner.uid))
            line.field("cgroup_id", owner.cgroupID)
        }
        line.field("attribution", plain: owner.source.name)
        let connection = event.connection
        line.field("family", plain: connection.family.name)
        line.field("saddr", connection.localAddress)
        line.field("sport", UInt64(connection.localPort))
        line.field("daddr", connection.remoteAddress)
        line.field("dport", UInt64(connection.remotePort))
        if event.kind != .drop || event.socketCookie != 0 {
            line.field("tcp_state", plain: connection.state.name)
        }
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            line.field("cause", plain: event.cause.name)
            line.field("ca_state", plain: event.congestionState.name)
            line.field("backoff", UInt64(event.backoff))
            if event.error != 0 {
                line.field("error", ErrorNumber.name(event.error))
                line.field("errno", Int64(-event.error))
            }
        case .congestionState:
            line.field("previous_ca_state", plain: event.previousCongestionState.name)
            line.field("backoff", UInt64(event.backoff))
        case .drop:
            line.field("reason", dropReasonNames[event.dropReason] ?? "UNKNOWN_\(event.dropReason)")
            line.field("reason_code", UInt64(event.dropReason))
        case .processExit:
            break
        }
        line.field("socket_cookie", event.socketCookie)
        line.field("socket_cgroup_id", event.socketCgroupID)
        line.field("netns", UInt64(event.networkNamespace))
        line.field("ktime_ns", event.monotonicNanoseconds)
    }
}

extension ProbeEvent {
    /// The `event_type` of the event's line.
    public var eventType: StaticString {
        switch kind {
        case .retransmit, .synAckRetransmit: error == 0 ? EventType.retransmit : EventType.failedRetransmit
        case .congestionState: EventType.congestionState
        case .drop: EventType.kernelDrop
        case .processExit: EventType.processExit
        }
    }
}

/// Symbolic names of the errno values a retransmit can fail with.
public enum ErrorNumber {
    /// The name of `-code` (a negative errno), e.g. "EBUSY".
    public static func name(_ code: Int32) -> String {
        switch -code {
        case 1: "EPERM"
        case 11: "EAGAIN"
        case 12: "ENOMEM"
        case 16: "EBUSY"
        case 22: "EINVAL"
        case 90: "EMSGSIZE"
        case 101: "ENETUNREACH"
        case 105: "ENOBUFS"
        case 113: "EHOSTUNREACH"
        default: "E\(-code)"
        }
    }
}
