import ProbeEvents

/// A node of the graph, and its id in the JSONL stream.
public enum Entity: Hashable, Sendable, CustomStringConvertible {
    /// A process: `process-pid-<pid>`.
    case process(UInt32)
    /// The network as seen by a process, the seed's entity: `network-pid-<pid>`.
    case network(pid: UInt32)
    /// A remote peer address: `peer-<address>`.
    case peer(IPAddress)
    /// A connection, by kernel socket cookie: `connection-<cookie>`.
    case connection(UInt64)

    public var description: String {
        switch self {
        case .process(let pid): "process-pid-\(pid)"
        case .network(let pid): "network-pid-\(pid)"
        case .peer(let address): "peer-\(address)"
        case .connection(let cookie): "connection-\(cookie)"
        }
    }
}

/// Why an edge went away.
public enum EdgeRemoval: String, Sendable {
    /// No evidence for the quiet period, and no connection in RTO backoff.
    case quiet
    /// The owning process exited.
    case processExit = "process-exit"
    /// Evicted to keep the graph within its bounds.
    case evicted
}

/// A WaitsOn edge: a process held up by the network, or by one peer,
/// while its connections retransmit or sit in RTO backoff.
public struct WaitsOnEdge: Sendable {
    public let pid: UInt32
    public let target: Entity
    /// Event time the edge appeared (kernel monotonic ns).
    public let since: UInt64
    /// Event time of the latest evidence.
    public internal(set) var lastEvidence: UInt64
    /// Retransmitted segments (sent) in the window.
    var segments: SlidingWindow
    /// Retransmissions caused by RTO timeouts in the window.
    var timeouts: SlidingWindow
    /// Retransmissions the kernel could not send, in the window.
    var failures: SlidingWindow
    /// Connections behind the edge (cookies), bounded.
    public internal(set) var connections = UInt64Set()
    /// The connection of the latest evidence, already in `connections`
    /// (unless that was full); 0: none yet.
    var lastConnection: UInt64 = 0
    public internal(set) var backoff: UInt8 = 0
    /// The peer with the most recent evidence (for network edges).
    public internal(set) var latestPeer: IPAddress
    /// Time its connections lost to loss recovery (BlockedTime.swift).
    var blocking: EdgeBlocking

    init(pid: UInt32, target: Entity, at time: UInt64, window: Double, peer: IPAddress) {
        self.pid = pid
        self.target = target
        since = time
        lastEvidence = time
        segments = SlidingWindow(seconds: window)
        timeouts = SlidingWindow(seconds: window)
        failures = SlidingWindow(seconds: window)
        blocking = EdgeBlocking(windowSeconds: window)
        latestPeer = peer
    }

    /// The figures rules and graph lines use, at event time `time`.
    public mutating func figures(at time: UInt64) -> EdgeFigures {
        EdgeFigures(
            retransmitRate: segments.rate(at: time),
            retransmits: segments.total(at: time),
            timeouts: timeouts.total(at: time),
            failures: failures.total(at: time),
            backoff: backoff,
            connections: connections.count,
            windowSeconds: segments.seconds,
            heldSeconds: Double(time &- since) / 1e9,
            quietSeconds: Double(time &- lastEvidence) / 1e9,
            blockedSeconds: Double(blocking.blockedNanoseconds(at: time)) / 1e9,
            blockedLastSecond: Double(blocking.blockedInLastSecond(at: time)) / 1e9,
            blockedForSeconds: Double(blocking.blockedFor(at: time)) / 1e9)
    }
}

public struct EdgeFigures: Equatable, Sendable {
    /// Retransmitted segments per second over the window.
    public var retransmitRate: Double
    public var retransmits: UInt64
    /// RTO-caused retransmissions in the window.
    public var timeouts: UInt64
    public var failures: UInt64
    public var backoff: UInt8
    public var connections: Int
    public var windowSeconds: Double
    /// How long the edge has held.
    public var heldSeconds: Double
    /// How long since the last evidence.
    public var quietSeconds: Double
    /// Time within the window the process (or its connections to the
    /// peer) spent waiting on loss recovery without progress.
    public var blockedSeconds: Double = 0
    /// Time within the last second spent so (the quick measure of a stall).
    public var blockedLastSecond: Double = 0
    /// How long the current blocked spell has lasted; 0 when not blocked.
    public var blockedForSeconds: Double = 0

    /// The share of the window spent blocked, 0 to 1.
    public var blockedFraction: Double { windowSeconds > 0 ? min(1, blockedSeconds / windowSeconds) : 0 }
}

/// What the graph knows of a process.
public struct ProcessNode: Sendable {
    public let pid: UInt32
    public internal(set) var command: Command
    public internal(set) var cgroupID: UInt64
    public internal(set) var lastSeen: UInt64
    public internal(set) var network: WaitsOnEdge?
    public internal(set) var peers: [IPAddress: WaitsOnEdge] = [:]
}

/// A connection with recent evidence.
public struct ConnectionNode: Sendable {
    public let cookie: UInt64
    public let pid: UInt32
    public internal(set) var connection: Connection
    public internal(set) var congestionState: CongestionState
    public internal(set) var backoff: UInt8
    public internal(set) var lastEvidence: UInt64
    var segments: SlidingWindow
    var timeouts: SlidingWindow
    /// Its blocked spells (BlockedTime.swift).
    var blocking = ConnectionBlocking()

    /// How long its blocked spell in progress has lasted, in seconds; 0 when not blocked.
    public func blockedForSeconds(at time: UInt64) -> Double {
        Double(blocking.blockedFor(at: time)) / 1e9
    }

    /// Seconds blocked within the last second before `time`.
    public mutating func blockedLastSecond(at time: UInt64) -> Double {
        Double(blocking.blockedInLastSecond(at: time)) / 1e9
    }

    /// Retransmitted segments and RTO retransmissions in the window.
    public mutating func counts(at time: UInt64) -> (retransmits: UInt64, timeouts: UInt64, rate: Double) {
        // The rate from the total already taken, as `rate(at:)` makes it.
        let retransmits = segments.total(at: time)
        return (retransmits, timeouts.total(at: time), Double(retransmits) / segments.seconds)
    }
}
