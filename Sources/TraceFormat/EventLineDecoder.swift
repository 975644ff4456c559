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
///
/// AgentLineScanner reads the agent's own lines the same way, faster.
enum EventLineDecoder {
    /// The event types, by their `event_type`.
    enum LineType: CaseIterable {
        case retransmit, failedRetransmit, congestionState, kernelDrop, processExit

        var name: StaticString {
            switch self {
            case .retransmit: EventType.retransmit
            case .failedRetransmit: EventType.failedRetransmit
            case .congestionState: EventType.congestionState
            case .kernelDrop: EventType.kernelDrop
            case .processExit: EventType.processExit
            }
        }

        static let byName: [String: LineType] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name.description, $0) })
    }

    static func decode(_ line: LineObject, type: LineType) throws(LineError) -> ProbeEvent {
        // The contract's keys first, in their order, then the context.
        let time = try time(of: line)
        try line.require(.entityID, "a string").checkString()
        let pid: UInt32 = try line.require(.pid, "a number").integer()
        let value = try line.require(.value, "a string")
        try value.checkString()
        var event = ProbeEvent(
            kind: .retransmit,
            monotonicNanoseconds: time,
            owner: try owner(pid: pid, in: line),
            connection: try connection(in: line),
            socketCookie: try line[.socketCookie]?.integer() ?? 0,
            networkNamespace: try line[.netns]?.integer() ?? 0,
            socketCgroupID: try line[.socketCgroupID]?.integer() ?? 0)
        switch type {
        case .retransmit, .failedRetransmit:
            event.cause = try line[.cause]?.named() ?? .unknown
            // Both kinds are written as transport.drop; only SYN-ACKs have this cause.
            event.kind = event.cause == .synAck ? .synAckRetransmit : .retransmit
            event.segments = try segments(in: value)
            event.congestionState = try line[.caState]?.named() ?? .open
            event.backoff = try line[.backoff]?.integer() ?? 0
            try decodeTiming(in: line, into: &event)
            event.packetsOut = try line[.packetsOut]?.integer() ?? 0
            if type == .failedRetransmit { event.error = try failure(in: line) }
        case .congestionState:
            event.kind = .congestionState
            event.congestionState = try value.named()
            event.previousCongestionState = try line[.previousCAState]?.named() ?? .open
            event.backoff = try line[.backoff]?.integer() ?? 0
            try decodeTiming(in: line, into: &event)
        case .kernelDrop:
            event.kind = .drop
            event.dropReason = try line[.reasonCode]?.integer() ?? 0
        case .processExit:
            event.kind = .processExit
            event.dropReason = try line[.exitCode]?.integer() ?? 0
        }
        return event
    }

    /// `ktime_ns`, else `ts` (wall-clock ms) in nanoseconds.
    private static func time(of line: LineObject) throws(LineError) -> UInt64 {
        let ts = try line.require(.ts, "a number")
        let milliseconds: UInt64 = try ts.integer()
        if let ktime = line[.ktimeNs] { return try ktime.integer() }
        let (nanoseconds, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { throw ts.failure("is too large to be read as nanoseconds (and there is no \"ktime_ns\")") }
        return nanoseconds
    }

    private static func owner(pid: UInt32, in line: LineObject) throws(LineError) -> SocketOwner {
        SocketOwner(
            pid: pid,
            tid: try line[.tid]?.integer() ?? 0,
            uid: try line[.uid]?.integer() ?? 0,
            cgroupID: try line[.cgroupID]?.integer() ?? 0,
            command: try line[.comm]?.command() ?? Command(),
            source: try line[.attribution]?.named() ?? .none)
    }

    private static func connection(in line: LineObject) throws(LineError) -> Connection {
        Connection(
            family: try line[.family]?.named() ?? .unspecified,
            localAddress: try line[.saddr]?.address() ?? IPAddress(),
            localPort: try line[.sport]?.integer() ?? 0,
            remoteAddress: try line[.daddr]?.address() ?? IPAddress(),
            remotePort: try line[.dport]?.integer() ?? 0,
            state: try line[.tcpState]?.named() ?? .unknown)
    }

    /// `value` of a retransmit: the segment count as a decimal string.
    private static func segments(in value: Field) throws(LineError) -> UInt32 {
        guard let count = try value.withStringBytes(segmentCount) else {
            throw value.failure("must be a count of segments (a decimal string from 0 to \(UInt32.max)), got \(quoted(try value.string()))")
        }
        return count
    }

    /// Decimal digits without a leading zero, up to UInt32.max.
    static func segmentCount(_ digits: UnsafeRawBufferPointer) -> UInt32? {
        guard !digits.isEmpty, digits.count == 1 || digits[0] != UInt8(ascii: "0") else { return nil }
        var count: UInt32 = 0
        for digit in digits {
            guard isDecimalDigit(digit) else { return nil }
            let (times10, overflow) = count.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt32(digit - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            count = sum
        }
        return count
    }

    /// The ProbeEvent error of a failed retransmit: -errno, never 0.
    /// Traces recorded before these keys existed have none: 0, unknown.
    private static func decodeTiming(in line: LineObject, into event: inout ProbeEvent) throws(LineError) {
        event.smoothedRTTMicroseconds = try line[.srttUs]?.integer() ?? 0
        event.retransmitTimeoutMicroseconds = try line[.rtoUs]?.integer() ?? 0
    }

    private static func failure(in line: LineObject) throws(LineError) -> Int32 {
        let field = try line.require(.errno, "a number")
        let errno: Int32 = try field.integer()
        guard errno != 0, errno != .min else {
            throw field.failure("must be a nonzero number from \(-Int32.max) to \(Int32.max) in a \(LineType.failedRetransmit.name) line, got \(errno)")
        }
        return -errno
    }
}

/// The keys of event lines, in the order the agent writes them.
enum EventKey: Int, CaseIterable {
    case ts, eventType, entityID, pid, value, tid, comm, uid, cgroupID, attribution, family, saddr, sport, daddr, dport
    case tcpState, cause, caState, previousCAState, backoff, srttUs, rtoUs, packetsOut, error, errno, reason, reasonCode
    case exitCode, socketCookie, socketCgroupID, netns, ktimeNs

    var name: StaticString {
        switch self {
        case .ts: "ts"
        case .eventType: "event_type"
        case .entityID: "entity_id"
        case .pid: "pid"
        case .value: "value"
        case .tid: "tid"
        case .comm: "comm"
        case .uid: "uid"
        case .cgroupID: "cgroup_id"
        case .attribution: "attribution"
        case .family: "family"
        case .saddr: "saddr"
        case .sport: "sport"
        case .daddr: "daddr"
        case .dport: "dport"
        case .tcpState: "tcp_state"
        case .cause: "cause"
        case .caState: "ca_state"
        case .previousCAState: "previous_ca_state"
        case .backoff: "backoff"
        case .srttUs: "srtt_us"
        case .rtoUs: "rto_us"
        case .packetsOut: "packets_out"
        case .error: "error"
        case .errno: "errno"
        case .reason: "reason"
        case .reasonCode: "reason_code"
        case .exitCode: "exit_code"
        case .socketCookie: "socket_cookie"
        case .socketCgroupID: "socket_cgroup_id"
        case .netns: "netns"
        case .ktimeNs: "ktime_ns"
        }
    }

    /// `name` as a String, made once.
    var text: String { Self.texts[rawValue] }
    private static let texts = allCases.map(\.name.description)
}
