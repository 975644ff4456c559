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
    /// Who a socket owner is (job, rank, container, cgroup); value = its
    /// job key, or "" when it has none.
    public static let processIdentity: StaticString = "process.identity"
    /// Records lost because the ring buffer was full; value = how many.
    public static let loss: StaticString = "probe.loss"
}

/// Writes probe events as JSONL in the seed's shape: `ts`, `event_type`,
/// `entity_id`, `pid`, `value` first, then the context fields.
public struct EventLineEncoder {
    public let clock: WallClock
    /// Names of the kernel's drop reasons by value (from kernel BTF, or
    /// from a trace being replayed).
    public var dropReasonNames: [UInt32: String] {
        didSet { encodedDropReasons = Self.encode(dropReasonNames) }
    }
    /// `"NAME"` of each reason below `encodedReasonLimit`, escaped once,
    /// by value: a drop line's reason is then one copy, not a hashed
    /// lookup and an escape per line. Empty where no name is known.
    private var encodedDropReasons: [[UInt8]]
    /// The kernel's reasons number about 120; larger values (from a trace)
    /// take the lookup.
    static let encodedReasonLimit: UInt32 = 1024

    /// Shared by copies of the encoder (it only ever holds correct text).
    private let texts = EncoderTextCache()

    public init(clock: WallClock, dropReasonNames: [UInt32: String]) {
        self.clock = clock
        self.dropReasonNames = dropReasonNames
        encodedDropReasons = Self.encode(dropReasonNames)
    }

    private static func encode(_ names: [UInt32: String]) -> [[UInt8]] {
        let known = names.keys.filter { $0 < encodedReasonLimit }
        guard let largest = known.max() else { return [] }
        var encoded = [[UInt8]](repeating: [], count: Int(largest) + 1)
        for code in known {
            var text = JSONLineWriter(capacity: 64)
            text.appendString(names[code]!)
            encoded[Int(code)] = text.bytes
        }
        return encoded
    }

    /// Room for any event line but the drop reason's name: numbers of at
    /// most 20 digits, a comm of 15 bytes escaped (6 each), two addresses of
    /// at most 39 bytes, and the fixed keys and names.
    static let lineRoom = 1024

    /// One line per event, the hottest path of the agent: the line's room is
    /// reserved once, and each run of keys and fixed values between two
    /// variable values is a single constant copy. `identity`: the owner's
    /// identity fields (`WorkloadIdentity.encodedFields`), after its own.
    public func encode(_ event: ProbeEvent, identity: [UInt8] = [], into line: inout JSONLineWriter) {
        line.reserve(Self.lineRoom)
        line.put("{\"ts\":")
        texts.put(clock.milliseconds(monotonicNanoseconds: event.monotonicNanoseconds), as: texts.milliseconds, into: &line)
        let owner = event.owner
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            if event.error == 0 {
                line.put(",\"event_type\":\"transport.drop\",\"entity_id\":\"network-")
            } else {
                line.put(",\"event_type\":\"transport.retransmit_failed\",\"entity_id\":\"network-")
            }
        case .congestionState:
            line.put(",\"event_type\":\"transport.congestion\",\"entity_id\":\"network-")
        case .drop:
            line.put(",\"event_type\":\"transport.kernel_drop\",\"entity_id\":\"network-")
        case .processExit:
            line.put(",\"event_type\":\"process.exit\",\"entity_id\":\"process-pid-")
            line.putDecimal(UInt64(owner.pid))
            line.put("\",\"pid\":")
            line.putDecimal(UInt64(owner.pid))
            line.put(",\"value\":\"1\",\"comm\":")
            texts.put(owner.command, into: &line)
            line.put(",\"cgroup_id\":")
            line.putDecimal(owner.cgroupID)
            line.appendFields(identity)
            line.reserve(Self.lineRoom)
            line.put(",\"exit_code\":")
            line.putDecimal(UInt64(event.dropReason))
            line.put(",\"ktime_ns\":")
            line.putDecimal(event.monotonicNanoseconds)
            line.put("}\n")
            return
        }
        // `entity_id` and `pid`: the network as seen by the owning process,
        // or by the network namespace when no owner is known (pid 0).
        if owner.pid != 0 {
            line.put("pid-")
            let start = line.count
            line.putDecimal(UInt64(owner.pid))
            line.put("\",\"pid\":")
            line.putCopy(from: start, count: line.count - start - 8)
        } else {
            line.put("netns-")
            line.putDecimal(UInt64(event.networkNamespace))
            line.put("\",\"pid\":0")
        }
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            line.put(",\"value\":\"")
            line.putDecimal(UInt64(event.segments))
            line.put(UInt8(ascii: "\""))
        case .congestionState:
            line.put(",\"value\":")
            Self.put(event.congestionState, into: &line)
        case .drop, .processExit:
            line.put(",\"value\":\"1\"")
        }
        if owner.pid != 0 {
            line.put(",\"tid\":")
            line.putDecimal(UInt64(owner.tid))
            line.put(",\"comm\":")
            texts.put(owner.command, into: &line)
            line.put(",\"uid\":")
            line.putDecimal(UInt64(owner.uid))
            line.put(",\"cgroup_id\":")
            line.putDecimal(owner.cgroupID)
            line.appendFields(identity)
            line.reserve(Self.lineRoom)
        }
        switch owner.source {
        case .none: line.put(",\"attribution\":\"none\"")
        case .socket: line.put(",\"attribution\":\"socket\"")
        case .existingSocket: line.put(",\"attribution\":\"existing-socket\"")
        case .currentTask: line.put(",\"attribution\":\"current-task\"")
        }
        let connection = event.connection
        switch connection.family {
        case .ipv4: line.put(",\"family\":\"ipv4\",\"saddr\":\"")
        case .ipv6: line.put(",\"family\":\"ipv6\",\"saddr\":\"")
        case .unspecified: line.put(",\"family\":\"unspec\",\"saddr\":\"")
        }
        texts.put(connection.localAddress, into: &line)
        line.put("\",\"sport\":")
        line.putDecimal(UInt64(connection.localPort))
        line.put(",\"daddr\":\"")
        texts.put(connection.remoteAddress, into: &line)
        line.put("\",\"dport\":")
        line.putDecimal(UInt64(connection.remotePort))
        if event.kind != .drop || event.socketCookie != 0 {
            if connection.state == .established {
                line.put(",\"tcp_state\":\"ESTABLISHED\"")
            } else {
                line.put(",\"tcp_state\":\"")
                line.putShort(connection.state.name)
                line.put(UInt8(ascii: "\""))
            }
        }
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            switch event.cause {
            case .unknown: line.put(",\"cause\":\"unknown\",\"ca_state\":")
            case .rto: line.put(",\"cause\":\"rto\",\"ca_state\":")
            case .fastRetransmit: line.put(",\"cause\":\"fast\",\"ca_state\":")
            case .tailLossProbe: line.put(",\"cause\":\"tlp\",\"ca_state\":")
            case .syn: line.put(",\"cause\":\"syn\",\"ca_state\":")
            case .synAck: line.put(",\"cause\":\"synack\",\"ca_state\":")
            case .other: line.put(",\"cause\":\"other\",\"ca_state\":")
            }
            Self.put(event.congestionState, into: &line)
            line.put(",\"backoff\":")
            line.putDecimal(UInt64(event.backoff))
            Self.putTiming(event, into: &line)
            line.put(",\"packets_out\":")
            line.putDecimal(UInt64(event.packetsOut))
            if event.error != 0 {
                line.put(",\"error\":")
                line.appendString(ErrorNumber.name(event.error))
                line.put(",\"errno\":")
                if event.error > 0 { line.put(UInt8(ascii: "-")) }
                line.putDecimal(UInt64(event.error.magnitude))
            }
        case .congestionState:
            line.put(",\"previous_ca_state\":")
            Self.put(event.previousCongestionState, into: &line)
            line.put(",\"backoff\":")
            line.putDecimal(UInt64(event.backoff))
            Self.putTiming(event, into: &line)
        case .drop:
            line.put(",\"reason\":")
            if event.dropReason < encodedDropReasons.count, !encodedDropReasons[Int(event.dropReason)].isEmpty {
                line.appendBytes(encodedDropReasons[Int(event.dropReason)])
                line.reserve(Self.lineRoom)
            } else if let name = dropReasonNames[event.dropReason] {
                // A name from BTF or from a trace: any length, escaped.
                line.appendString(name)
                line.reserve(Self.lineRoom)
            } else {
                line.put("\"UNKNOWN_")
                line.putDecimal(UInt64(event.dropReason))
                line.put(UInt8(ascii: "\""))
            }
            line.put(",\"reason_code\":")
            line.putDecimal(UInt64(event.dropReason))
        case .processExit:
            break
        }
        line.put(",\"socket_cookie\":")
        line.putDecimal(event.socketCookie)
        line.put(",\"socket_cgroup_id\":")
        line.putDecimal(event.socketCgroupID)
        line.put(",\"netns\":")
        texts.put(UInt64(event.networkNamespace), as: texts.namespace, into: &line)
        line.put(",\"ktime_ns\":")
        line.putDecimal(event.monotonicNanoseconds)
        line.put("}\n")
    }

    /// The socket's RTT and RTO, which date a stall in a replay as live.
    private static func putTiming(_ event: ProbeEvent, into line: inout JSONLineWriter) {
        line.put(",\"srtt_us\":")
        line.putDecimal(UInt64(event.smoothedRTTMicroseconds))
        line.put(",\"rto_us\":")
        line.putDecimal(UInt64(event.retransmitTimeoutMicroseconds))
    }

    /// A congestion state as a JSON string.
    private static func put(_ state: CongestionState, into line: inout JSONLineWriter) {
        switch state {
        case .open: line.put("\"open\"")
        case .disorder: line.put("\"disorder\"")
        case .cwr: line.put("\"cwr\"")
        case .recovery: line.put("\"recovery\"")
        case .loss: line.put("\"loss\"")
        }
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
