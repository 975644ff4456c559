import ProbeEvents

/// Reads back the lines EventLineEncoder writes, into the ProbeEvent it
/// wrote them from. The encoder leaves out what a kind does not use, so a
/// key that is absent takes the ProbeEvent default (0, .open, .unknown,
/// source .none, ...), and keys this decoder does not need (`error`,
/// `reason`: names derived from `errno` and `reason_code`) are not read.
///
/// Without `ktime_ns`, the event's monotonic time is `ts` in nanoseconds
/// (ts × 1,000,000): this is how the seed's minimal line,
/// {"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"},
/// decodes (a retransmit of 1 segment by pid 1024, nothing else known).
enum EventLineDecoder {
    static let retransmit = EventType.retransmit.description
    static let failedRetransmit = EventType.failedRetransmit.description
    static let congestionState = EventType.congestionState.description
    static let kernelDrop = EventType.kernelDrop.description
    static let processExit = EventType.processExit.description

    static let eventTypes: Set<String> = [retransmit, failedRetransmit, congestionState, kernelDrop, processExit]

    static func decode(_ line: LineObject, eventType: String) throws(LineError) -> ProbeEvent {
        // The contract's keys first, in their order, then the context.
        let time = try time(of: line)
        _ = try line.require("entity_id", "a string").string()
        let pid: UInt32 = try line.require("pid", "a number").integer()
        let value = try line.require("value", "a string")
        _ = try value.string()
        var event = ProbeEvent(
            kind: .retransmit,
            monotonicNanoseconds: time,
            owner: try owner(pid: pid, in: line),
            connection: try connection(in: line),
            socketCookie: try line["socket_cookie"]?.integer() ?? 0,
            networkNamespace: try line["netns"]?.integer() ?? 0,
            socketCgroupID: try line["socket_cgroup_id"]?.integer() ?? 0)
        switch eventType {
        case retransmit, failedRetransmit:
            event.cause = try line["cause"]?.named() ?? .unknown
            // Both kinds are written as transport.drop; only SYN-ACKs have this cause.
            event.kind = event.cause == .synAck ? .synAckRetransmit : .retransmit
            event.segments = try segments(in: value)
            event.congestionState = try line["ca_state"]?.named() ?? .open
            event.backoff = try line["backoff"]?.integer() ?? 0
            try decodeTiming(in: line, into: &event)
            event.packetsOut = try line["packets_out"]?.integer() ?? 0
            if eventType == failedRetransmit { event.error = try failure(in: line) }
        case congestionState:
            event.kind = .congestionState
            event.congestionState = try value.named()
            event.previousCongestionState = try line["previous_ca_state"]?.named() ?? .open
            event.backoff = try line["backoff"]?.integer() ?? 0
            try decodeTiming(in: line, into: &event)
        case kernelDrop:
            event.kind = .drop
            event.dropReason = try line["reason_code"]?.integer() ?? 0
        default:
            event.kind = .processExit
            event.dropReason = try line["exit_code"]?.integer() ?? 0
        }
        return event
    }

    /// `ktime_ns`, else `ts` (wall-clock ms) in nanoseconds.
    private static func time(of line: LineObject) throws(LineError) -> UInt64 {
        let ts = try line.require("ts", "a number")
        let milliseconds: UInt64 = try ts.integer()
        if let ktime = line["ktime_ns"] { return try ktime.integer() }
        let (nanoseconds, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { throw ts.failure("is too large to be read as nanoseconds (and there is no \"ktime_ns\")") }
        return nanoseconds
    }

    private static func owner(pid: UInt32, in line: LineObject) throws(LineError) -> SocketOwner {
        SocketOwner(
            pid: pid,
            tid: try line["tid"]?.integer() ?? 0,
            uid: try line["uid"]?.integer() ?? 0,
            cgroupID: try line["cgroup_id"]?.integer() ?? 0,
            command: try line["comm"]?.command() ?? Command(),
            source: try line["attribution"]?.named() ?? .none)
    }

    private static func connection(in line: LineObject) throws(LineError) -> Connection {
        Connection(
            family: try line["family"]?.named() ?? .unspecified,
            localAddress: try line["saddr"]?.address() ?? IPAddress(),
            localPort: try line["sport"]?.integer() ?? 0,
            remoteAddress: try line["daddr"]?.address() ?? IPAddress(),
            remotePort: try line["dport"]?.integer() ?? 0,
            state: try line["tcp_state"]?.named() ?? .unknown)
    }

    /// `value` of a retransmit: the segment count as a decimal string.
    private static func segments(in value: Field) throws(LineError) -> UInt32 {
        let text = try value.string()
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.allSatisfy(isDecimalDigit), digits.count == 1 || digits[0] != UInt8(ascii: "0"),
              let count = UInt32(text) else {
            throw value.failure("must be a count of segments (a decimal string from 0 to \(UInt32.max)), got \(quoted(text))")
        }
        return count
    }

    /// The ProbeEvent error of a failed retransmit: -errno, never 0.
    /// Traces recorded before these keys existed have none: 0, unknown.
    private static func decodeTiming(in line: LineObject, into event: inout ProbeEvent) throws(LineError) {
        event.smoothedRTTMicroseconds = try line["srtt_us"]?.integer() ?? 0
        event.retransmitTimeoutMicroseconds = try line["rto_us"]?.integer() ?? 0
    }

    private static func failure(in line: LineObject) throws(LineError) -> Int32 {
        let field = try line.require("errno", "a number")
        let errno: Int32 = try field.integer()
        guard errno != 0, errno != .min else {
            throw field.failure("must be a nonzero number from \(-Int32.max) to \(Int32.max) in a \(failedRetransmit) line, got \(errno)")
        }
        return -errno
    }
}
