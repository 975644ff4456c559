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
    /// Looked up per event: keyed by a pid that hashes without a Hasher.
    private var byPID: [ProcessKey: Entry] = [:]
    /// Events of processes that did not fit.
    public private(set) var overflowEvents: UInt64 = 0

    public init() {}

    /// The entries by pid (made on each read: for scrapes and summaries).
    public var entries: [UInt32: Entry] {
        Dictionary(uniqueKeysWithValues: byPID.map { ($0.key.pid, $0.value) })
    }

    public mutating func add(_ event: ProbeEvent) {
        let pid = event.owner.pid
        let key = ProcessKey(pid: pid)
        var index = byPID.index(forKey: key)
        if index == nil {
            guard byPID.count < Self.maximumProcesses else {
                overflowEvents += 1
                return
            }
            byPID[key] = Entry(pid: pid, command: event.owner.command)
            index = byPID.index(forKey: key)
        }
        // In place through the index: one hash lookup per event.
        Self.count(event, into: &byPID.values[index!])
    }

    private static func count(_ event: ProbeEvent, into entry: inout Entry) {
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            if event.error == 0 {
                entry.retransmittedSegments += UInt64(event.segments)
                entry.retransmitEvents += 1
                if event.cause == .rto { entry.rtoEvents += 1 }
            } else {
                entry.failedSegments += UInt64(event.segments)
            }
        case .drop:
            entry.kernelDrops += 1
        case .congestionState, .processExit:
            break
        }
    }

    /// Entries by pid, ascending.
    public var sorted: [Entry] { byPID.values.sorted { $0.pid < $1.pid } }
}
