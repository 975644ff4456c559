import CArkProbeRecords

/// One thing the kernel probe saw, decoded from an `ark_record`.
public struct ProbeEvent: Equatable, Sendable {
    public enum Kind: UInt32, Sendable {
        case retransmit = 1
        case synAckRetransmit = 2
        case congestionState = 3
        case drop = 4
        /// A process that owned a TCP socket exited.
        case processExit = 5
    }

    public var kind: Kind
    /// Kernel CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).
    public var monotonicNanoseconds: UInt64
    /// The process that owns the socket (pid 0 when unknown).
    public var owner: SocketOwner
    public var connection: Connection
    /// The kernel's socket cookie; 0 when there is no socket.
    public var socketCookie: UInt64
    /// Inode number of the network namespace.
    public var networkNamespace: UInt32
    /// cgroup v2 id recorded on the socket itself.
    public var socketCgroupID: UInt64
    /// Retransmits: segments in this retransmission (GSO/TSO).
    public var segments: UInt32
    /// Retransmits: 0 when sent, else -errno and nothing was sent.
    public var error: Int32
    public var cause: RetransmitCause
    /// Congestion-control state now (for `.congestionState`: the new one).
    public var congestionState: CongestionState
    public var previousCongestionState: CongestionState
    /// RTO backoff exponent (icsk_backoff).
    public var backoff: UInt8
    /// Retransmits and congestion states: the smoothed RTT and the
    /// retransmission timeout before backoff, in microseconds (0: unknown,
    /// as in traces recorded before they were).
    public var smoothedRTTMicroseconds: UInt32 = 0
    public var retransmitTimeoutMicroseconds: UInt32 = 0
    /// Retransmits: packets in flight (tp->packets_out, at most 255; 0:
    /// unknown). A tail-loss probe waits 200 ms longer with one.
    public var packetsOut: UInt8 = 0
    /// Drops: the kernel's `enum skb_drop_reason` value; process exits:
    /// the task's exit_code (wait status).
    public var dropReason: UInt32

    public init(
        kind: Kind, monotonicNanoseconds: UInt64, owner: SocketOwner = SocketOwner(),
        connection: Connection = Connection(), socketCookie: UInt64 = 0, networkNamespace: UInt32 = 0,
        socketCgroupID: UInt64 = 0, segments: UInt32 = 0, error: Int32 = 0,
        cause: RetransmitCause = .unknown, congestionState: CongestionState = .open,
        previousCongestionState: CongestionState = .open, backoff: UInt8 = 0, dropReason: UInt32 = 0
    ) {
        self.kind = kind
        self.monotonicNanoseconds = monotonicNanoseconds
        self.owner = owner
        self.connection = connection
        self.socketCookie = socketCookie
        self.networkNamespace = networkNamespace
        self.socketCgroupID = socketCgroupID
        self.segments = segments
        self.error = error
        self.cause = cause
        self.congestionState = congestionState
        self.previousCongestionState = previousCongestionState
        self.backoff = backoff
        self.dropReason = dropReason
    }

    /// Decodes a ring-buffer record; nil for a kind this agent does not know.
    public init?(record: UnsafePointer<ark_record>) {
        var event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0)
        guard Self.decode(record, into: &event) else { return nil }
        self = event
    }

    /// Decodes a ring-buffer record into `event`, field by field in place:
    /// the agent's per-record path, where a returned optional event (about
    /// 150 bytes) is copied twice. False, and `event` unchanged, for a kind
    /// this agent does not know.
    public static func decode(_ record: UnsafePointer<ark_record>, into event: inout ProbeEvent) -> Bool {
        // Fields read in place: a copy of the whole record costs a memcpy.
        guard let kind = Kind(rawValue: record.pointee.kind) else { return false }
        event.kind = kind
        event.monotonicNanoseconds = record.pointee.ktime_ns
        event.owner = SocketOwner(record.pointee.owner)
        event.connection = Connection(record.pointee.flow)
        event.socketCookie = record.pointee.socket_cookie
        event.networkNamespace = record.pointee.netns
        event.socketCgroupID = record.pointee.socket_cgroup_id
        event.segments = record.pointee.segments
        event.error = record.pointee.error
        event.cause = RetransmitCause(rawValue: record.pointee.cause) ?? .unknown
        event.congestionState = CongestionState(rawValue: record.pointee.ca_state) ?? .open
        event.previousCongestionState = kind == .congestionState
            ? CongestionState(rawValue: record.pointee.old_ca_state) ?? .open : .open
        event.backoff = record.pointee.backoff
        event.smoothedRTTMicroseconds = record.pointee.srtt_us
        event.retransmitTimeoutMicroseconds = record.pointee.rto_us
        event.packetsOut = kind == .retransmit || kind == .synAckRetransmit ? record.pointee.old_ca_state : 0
        event.dropReason = record.pointee.drop_reason
        return true
    }

    /// A retransmission that put segments on the wire (what TCP_INFO's
    /// tcpi_total_retrans counts), as opposed to one that failed.
    public var isSentRetransmit: Bool {
        (kind == .retransmit || kind == .synAckRetransmit) && error == 0
    }
}

/// The process owning a socket, and how the probe knows it.
public struct SocketOwner: Equatable, Sendable {
    /// Thread-group id (the process id); 0 when unknown.
    public var pid: UInt32
    /// The thread that last used the socket in process context.
    public var tid: UInt32
    public var uid: UInt32
    public var cgroupID: UInt64
    public var command: Command
    public var source: Source

    public enum Source: UInt8, Sendable {
        /// No owner known.
        case none = 0
        /// Recorded on the socket when the owner used it.
        case socket = 1
        /// Found by the start-up walk of existing sockets.
        case existingSocket = 2
        /// The task on the CPU (fallback hooks: may be wrong in softirq).
        case currentTask = 3

        public var name: StaticString {
            switch self {
            case .none: "none"
            case .socket: "socket"
            case .existingSocket: "existing-socket"
            case .currentTask: "current-task"
            }
        }
    }

    public init(pid: UInt32 = 0, tid: UInt32 = 0, uid: UInt32 = 0, cgroupID: UInt64 = 0,
                command: Command = Command(), source: Source = .none) {
        self.pid = pid
        self.tid = tid
        self.uid = uid
        self.cgroupID = cgroupID
        self.command = command
        self.source = source
    }

    init(_ raw: ark_owner) {
        self.init(pid: raw.tgid, tid: raw.tid, uid: raw.uid, cgroupID: raw.cgroup_id,
                  command: Command(raw.comm), source: Source(rawValue: raw.source) ?? .none)
    }
}

/// A task's command name (comm): at most 15 bytes, kept as bytes so that
/// decoding allocates nothing.
public struct Command: Equatable, Hashable, Sendable, CustomStringConvertible {
    public private(set) var bytes: (UInt64, UInt64) = (0, 0)

    public init() {}

    public init(_ text: String) {
        self.init(bytes: Array(text.utf8))
    }

    /// A comm from raw bytes, which need not be UTF-8: the first 15 bytes,
    /// up to the first NUL.
    public init(bytes text: [UInt8]) {
        var padded = Array(text.prefix { $0 != 0 }.prefix(15))
        padded.append(contentsOf: repeatElement(0, count: 16 - padded.count))
        withUnsafeMutableBytes(of: &bytes) { $0.copyBytes(from: padded) }
    }

    /// The same from bytes in memory, without allocating.
    public init(bytes text: UnsafeRawBufferPointer) {
        let length = text.firstIndex(of: 0) ?? text.count
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: text[..<min(length, 15)])) }
    }

    init(_ raw: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
                 CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar)) {
        withUnsafeMutableBytes(of: &bytes) { destination in
            withUnsafeBytes(of: raw) { destination.copyMemory(from: $0) }
        }
    }

    /// How many bytes come before the first NUL (16 when none does).
    var length: Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // The lowest flagged byte is the first zero byte (little-endian order).
        let first = UInt64(littleEndian: bytes.0), second = UInt64(littleEndian: bytes.1)
        let zeros = (first &- ones) & ~first & highs
        if zeros != 0 { return zeros.trailingZeroBitCount / 8 }
        let laterZeros = (second &- ones) & ~second & highs
        if laterZeros != 0 { return 8 + laterZeros.trailingZeroBitCount / 8 }
        return 16
    }

    /// The bytes up to the first NUL.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: bytes) { all in
            let length = all.firstIndex(of: 0) ?? all.count
            return body(UnsafeRawBufferPointer(rebasing: all[0..<length]))
        }
    }

    public var description: String {
        withBytes { String(decoding: $0, as: UTF8.self) }
    }

    public static func == (lhs: Command, rhs: Command) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0)
        hasher.combine(bytes.1)
    }
}

/// Why a segment was retransmitted (bpf/ark_probe.h, enum ark_retransmit_cause).
public enum RetransmitCause: UInt8, Sendable, CaseIterable {
    case unknown = 0, rto = 1, fastRetransmit = 2, tailLossProbe = 3, syn = 4, synAck = 5, other = 6

    public var name: StaticString {
        switch self {
        case .unknown: "unknown"
        case .rto: "rto"
        case .fastRetransmit: "fast"
        case .tailLossProbe: "tlp"
        case .syn: "syn"
        case .synAck: "synack"
        case .other: "other"
        }
    }
}

/// TCP congestion-control state (enum tcp_ca_state).
public enum CongestionState: UInt8, Sendable, CaseIterable {
    case open = 0, disorder = 1, cwr = 2, recovery = 3, loss = 4

    public var name: StaticString {
        switch self {
        case .open: "open"
        case .disorder: "disorder"
        case .cwr: "cwr"
        case .recovery: "recovery"
        case .loss: "loss"
        }
    }
}
