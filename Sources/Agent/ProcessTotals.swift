import ProbeEvents

/// Per-process totals of what the agent reported, for the exit summary.
public struct ProcessTotals: Sendable {
    public struct Entry: Equatable, Sendable {
        public var pid: UInt32
        public var command: Command
        /// Segments retransmitted and sent (sums to tcpi_total_retrans).
        public var retransmittedSegments: UInt64 = 0
        public var retransmitEvents: UInt64 = 0
        /// Segments the kernel tried to retransmit but did not send.
        public var failedSegments: UInt64 = 0
        public var rtoEvents: UInt64 = 0
        public var kernelDrops: UInt64 = 0
    }

    /// Bounded: a flood of short-lived processes must not grow it forever.
    public static let maximumProcesses = 4096
    public private(set) var entries: [UInt32: Entry] = [:]
    /// Events of processes that did not fit.
    public private(set) var overflowEvents: UInt64 = 0

    public init() {}

    public mutating func add(_ event: ProbeEvent) {
        let pid = event.owner.pid
        if entries[pid] == nil {
            guard entries.count < Self.maximumProcesses else {
                overflowEvents += 1
                return
            }
            entries[pid] = Entry(pid: pid, command: event.owner.command)
        }
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            if event.error == 0 {
                entries[pid]!.retransmittedSegments += UInt64(event.segments)
                entries[pid]!.retransmitEvents += 1
                if event.cause == .rto { entries[pid]!.rtoEvents += 1 }
            } else {
                entries[pid]!.failedSegments += UInt64(event.segments)
            }
        case .drop:
            entries[pid]!.kernelDrops += 1
        case .congestionState, .processExit:
            break
        }
    }

    /// Entries by pid, ascending.
    public var sorted: [Entry] { entries.values.sorted { $0.pid < $1.pid } }
}
