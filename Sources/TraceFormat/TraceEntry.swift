import ProbeEvents
import WorkloadIdentity

/// One line of a trace, read back.
public enum TraceEntry: Equatable, Sendable {
    /// A probe event (transport.drop, transport.retransmit_failed,
    /// transport.congestion, transport.kernel_drop, process.exit): the
    /// ProbeEvent the encoder wrote this line from.
    case event(ProbeEvent, line: Int)
    /// The agent's first line (probe.started).
    case started(StartInfo, line: Int)
    /// Who a process is (process.identity), as of event time `time`.
    case identity(ProcessIdentity, line: Int)
    /// Any other line (graph.*, alerts, probe.loss, probe.summary, types
    /// this version does not know): the line's bytes without its line
    /// terminator, unchanged.
    case passthrough(eventType: String, bytes: [UInt8], line: Int)

    /// The 1-based line number in the trace.
    public var line: Int {
        switch self {
        case .event(_, let line), .started(_, let line), .identity(_, let line), .passthrough(_, _, let line): line
        }
    }
}

/// What the agent's probe.started line says about the run.
public struct StartInfo: Equatable, Sendable {
    /// `ts`: wall-clock milliseconds since the epoch.
    public var wallMilliseconds: UInt64
    public var host: String
    public var kernel: String
    /// `value`: how the retransmit hook was attached (tp_btf, tracepoint, kprobe).
    public var attachMode: String
    /// CLOCK_REALTIME - CLOCK_MONOTONIC at start: converts `ktime_ns` to `ts`.
    public var clockOffsetNanoseconds: Int64
    /// "socket-owner" or "current-task".
    public var attribution: String
    /// Every attached program, as "program -> hook".
    public var hooks: [String]
    public var reportsFailedRetransmits: Bool

    public init(wallMilliseconds: UInt64, host: String = "", kernel: String = "", attachMode: String,
                clockOffsetNanoseconds: Int64, attribution: String = "", hooks: [String] = [],
                reportsFailedRetransmits: Bool = false) {
        self.wallMilliseconds = wallMilliseconds
        self.host = host
        self.kernel = kernel
        self.attachMode = attachMode
        self.clockOffsetNanoseconds = clockOffsetNanoseconds
        self.attribution = attribution
        self.hooks = hooks
        self.reportsFailedRetransmits = reportsFailedRetransmits
    }

    /// The clock the agent used, to turn event times back into `ts`.
    public var clock: WallClock { WallClock(offsetNanoseconds: clockOffsetNanoseconds) }
}

/// What a process.identity line says.
public struct ProcessIdentity: Equatable, Sendable {
    public var pid: UInt32
    public var command: Command
    public var cgroupID: UInt64
    /// `ktime_ns`: event time.
    public var time: UInt64
    public var identity: WorkloadIdentity

    public init(pid: UInt32, command: Command, cgroupID: UInt64 = 0, time: UInt64, identity: WorkloadIdentity) {
        self.pid = pid
        self.command = command
        self.cgroupID = cgroupID
        self.time = time
        self.identity = identity
    }
}
