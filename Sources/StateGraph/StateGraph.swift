import ProbeEvents
import WorkloadIdentity

/// Bounds and timings of the graph. Times are event time (the kernel's
/// monotonic clock carried by the events), never the wall clock, so a
/// replayed trace builds the same graph.
public struct GraphConfiguration: Sendable {
    /// Sliding window for rates and counts on edges, in seconds.
    public var windowSeconds = 5.0
    /// An edge without evidence for this long expires…
    public var quietSeconds = 5.0
    /// …unless one of its connections sits in RTO backoff (CA state Loss),
    /// which holds it up to this long after the last evidence.
    public var backoffHoldSeconds = 120.0
    /// Least time between two `updated` changes of one edge.
    public var updateIntervalSeconds = 1.0
    public var maximumProcesses = 4096
    public var maximumConnections = 8192
    public var maximumConnectionsPerEdge = 64

    public init() {}
}

/// A change of a WaitsOn edge, for the JSONL stream.
public struct GraphChange: Sendable {
    public enum Kind: Sendable { case added, updated, removed(EdgeRemoval) }
    public let kind: Kind
    public let time: UInt64
    public let pid: UInt32
    public let command: Command
    public let target: Entity
    public let since: UInt64
    public let peer: IPAddress
    public let figures: EdgeFigures
}

/// Who waits on the network: processes, their connections with recent
/// evidence, the peers they wait on, and WaitsOn edges (process → network,
/// process → peer) weighted by the recent retransmission rate. Bounded:
/// beyond its limits the least recently seen process or connection is
/// evicted and counted.
public struct StateGraph: Sendable {
    public let configuration: GraphConfiguration
    public private(set) var processes: [ProcessKey: ProcessNode] = [:]
    public private(set) var connections: [ConnectionKey: ConnectionNode] = [:]
    /// Latest event time seen.
    public private(set) var now: UInt64 = 0
    public private(set) var evictedProcesses: UInt64 = 0
    public private(set) var evictedConnections: UInt64 = 0
    /// Blocked time of each process's network edge, summed as spells end
    /// (a counter: it never goes back). Bounded like the processes.
    public private(set) var blockedNanosecondsByProcess: [UInt32: UInt64] = [:]
    /// Who each process is (job, rank, container...), as far as known:
    /// told by `identify`, forgotten by `forgetIdentity` at its exit.
    public private(set) var identities: IdentityCache
    /// Time and retransmit total of each edge's last emitted change.
    private var emitted: [EdgeKey: (time: UInt64, retransmits: UInt64, timeouts: UInt64, blocked: Bool)] = [:]

    struct EdgeKey: Hashable {
        let pid: UInt32
        let target: Entity

        /// Without a Hasher: looked up for every change and update of an edge.
        func _rawHashValue(seed: Int) -> Int {
            let word: UInt64 = switch target {
            case .process(let pid): 1 << 32 | UInt64(pid)
            case .network(let pid): 2 << 32 | UInt64(pid)
            case .peer(let address): address.high &* 0x9E37_79B9_7F4A_7C15 ^ address.low
            case .connection(let cookie): cookie
            }
            return tableHash(word ^ UInt64(pid) &* 0xC2B2_AE3D_27D4_EB4F, seed: seed)
        }
    }

    public init(configuration: GraphConfiguration = GraphConfiguration()) {
        self.configuration = configuration
        identities = IdentityCache(capacity: configuration.maximumProcesses)
    }

    // MARK: Identities

    /// Stores who `pid` is; true when that is news (new, or changed).
    @discardableResult
    public mutating func identify(_ pid: UInt32, as identity: WorkloadIdentity, command: Command) -> Bool {
        identities.insert(identity, command: command, for: pid)
    }

    /// The process exited (after its last lines were written).
    public mutating func forgetIdentity(_ pid: UInt32) {
        identities.remove(pid)
    }

    /// The line fields of `pid`'s identity; empty when unknown.
    public func identityFields(of pid: UInt32) -> [UInt8] {
        identities[pid]?.fields ?? []
    }

    // MARK: Events

    /// Folds one event into the graph; appends the edges it adds. Each
    /// node is found by one hash lookup and changed in place through its
    /// index: this runs for every event.
    public mutating func apply(_ event: ProbeEvent, changes: inout [GraphChange]) {
        now = max(now, event.monotonicNanoseconds)
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            guard event.owner.pid != 0 else { return }
            recordRetransmit(event, changes: &changes)
        case .congestionState:
            let key = Self.connectionKey(event)
            guard let index = connections.index(forKey: key) else { return }
            Self.recordState(event, at: now, on: &connections.values[index])
            if let end = connections.values[index].blocking.congestionState(event.congestionState, at: now) {
                unblock(connectionAt: index, at: end)
            }
        case .processExit:
            removeProcess(event.owner.pid, reason: .processExit, changes: &changes)
        case .drop:
            return
        }
    }

    private mutating func recordRetransmit(_ event: ProbeEvent, changes: inout [GraphChange]) {
        let pid = event.owner.pid
        var processIndex = processes.index(forKey: pid)
        if processIndex == nil {
            if processes.count >= configuration.maximumProcesses { evictOldestProcess(changes: &changes) }
            processes[pid] = ProcessNode(pid: pid, command: event.owner.command,
                                         cgroupID: event.owner.cgroupID, lastSeen: now)
            processIndex = processes.index(forKey: pid)
        }
        let key = Self.connectionKey(event)
        let opened: Bool
        let blockedSince: UInt64?
        if let connectionIndex = connections.index(forKey: key) {
            Self.record(event, at: now, on: &connections.values[connectionIndex])
            // A spell that ended before this retransmission (a repair one
            // RTT on) ends first, so that this one starts its own.
            if let end = connections.values[connectionIndex].blocking.inferProgress(at: now) {
                unblock(connectionAt: connectionIndex, at: end, knowing: (pid, processIndex!))
            }
            (opened, blockedSince) = Self.retransmit(event, at: now, on: &connections.values[connectionIndex])
        } else {
            if connections.count >= configuration.maximumConnections { evictOldestConnection() }
            let window = configuration.windowSeconds
            var node = ConnectionNode(
                cookie: key, pid: pid, connection: event.connection, congestionState: event.congestionState,
                backoff: event.backoff, lastEvidence: now,
                segments: SlidingWindow(seconds: window), timeouts: SlidingWindow(seconds: window))
            Self.record(event, at: now, on: &node)
            (opened, blockedSince) = Self.retransmit(event, at: now, on: &node)
            connections[key] = node
        }
        let added = Self.record(event, connection: key, at: now, on: &processes.values[processIndex!],
                                configuration: configuration)
        // Also when an edge is new: one that expired and came back must
        // learn of a spell still going on.
        if let blockedSince, opened || added.network || added.peer {
            processes.values[processIndex!].block(connection: key, toPeerAt: added.peerIndex, since: blockedSince)
        }
        if added.network { changes.append(change(.added, processes[pid]!.network!, of: pid)) }
        if added.peer { changes.append(change(.added, processes[pid]!.peers[event.connection.remoteAddress]!, of: pid)) }
    }

    private static func recordState(_ event: ProbeEvent, at now: UInt64, on connection: inout ConnectionNode) {
        connection.congestionState = event.congestionState
        connection.backoff = event.backoff
        connection.lastEvidence = now
    }

    private static func record(_ event: ProbeEvent, at now: UInt64, on connection: inout ConnectionNode) {
        connection.connection = event.connection
        connection.congestionState = event.congestionState
        connection.backoff = event.backoff
        connection.lastEvidence = now
        guard event.error == 0 else { return }
        connection.segments.add(event.segments, at: now)
        if event.cause == .rto { connection.timeouts.add(1, at: now) }
    }

    /// Folds the retransmission into the connection's spells; says whether
    /// it opened one, and since when the connection is blocked. In place
    /// (inout): a read through Dictionary.Values copies the whole node.
    private static func retransmit(_ event: ProbeEvent, at now: UInt64,
                                   on connection: inout ConnectionNode) -> (opened: Bool, blockedSince: UInt64?) {
        let opened = connection.blocking.retransmit(event, at: now)
        return (opened, connection.blocking.since)
    }

    /// Strengthens (creating if needed) the process's edges to the network
    /// and to the event's peer; says which were created, and where the
    /// peer's edge is, so that it is looked up once.
    private static func record(_ event: ProbeEvent, connection key: UInt64, at now: UInt64,
                               on process: inout ProcessNode, configuration: GraphConfiguration)
        -> (network: Bool, peer: Bool, peerIndex: [IPAddress: WaitsOnEdge].Index) {
        let peer = event.connection.remoteAddress
        process.command = event.owner.command
        process.cgroupID = event.owner.cgroupID
        process.lastSeen = now
        let newNetwork = process.network == nil
        if newNetwork {
            process.network = WaitsOnEdge(pid: process.pid, target: .network(pid: process.pid), at: now,
                                          window: configuration.windowSeconds, peer: peer)
        }
        strengthen(&process.network!, with: event, connection: key, at: now, configuration: configuration)
        if let index = process.peers.index(forKey: peer) {
            strengthen(&process.peers.values[index], with: event, connection: key, at: now, configuration: configuration)
            return (newNetwork, false, index)
        }
        var edge = WaitsOnEdge(pid: process.pid, target: .peer(peer), at: now, window: configuration.windowSeconds, peer: peer)
        strengthen(&edge, with: event, connection: key, at: now, configuration: configuration)
        process.peers[peer] = edge
        return (newNetwork, true, process.peers.index(forKey: peer)!)
    }

    private static func strengthen(_ edge: inout WaitsOnEdge, with event: ProbeEvent, connection key: UInt64,
                                   at now: UInt64, configuration: GraphConfiguration) {
        edge.lastEvidence = now
        edge.latestPeer = event.connection.remoteAddress
        edge.backoff = event.backoff
        if event.error == 0 {
            edge.segments.add(event.segments, at: now)
            if event.cause == .rto { edge.timeouts.add(1, at: now) }
        } else {
            edge.failures.add(event.segments, at: now)
        }
        // The set only grows, so the connection of the previous evidence
        // needs no second look.
        guard key != edge.lastConnection else { return }
        if edge.connections.count < configuration.maximumConnectionsPerEdge { edge.connections.insert(key) }
        edge.lastConnection = key
    }

    // MARK: Time

    /// Moves event time forward: expires edges and connections whose
    /// evidence stopped, and appends an `updated` change for each edge whose
    /// figures changed since it was last reported (at most once per
    /// update interval).
    public mutating func advance(to time: UInt64, changes: inout [GraphChange]) {
        now = max(now, time)
        let quiet = UInt64(configuration.quietSeconds * 1e9)
        let hold = UInt64(configuration.backoffHoldSeconds * 1e9)
        let interval = UInt64(configuration.updateIntervalSeconds * 1e9)
        // Spells whose retransmit timer would have fired again by now.
        // Walked by hand: `connections.indices` holds the table, so the
        // first change through an index would copy all of it.
        var index = connections.startIndex
        while index != connections.endIndex {
            if let end = connections.values[index].blocking.inferProgress(at: now) {
                unblock(connectionAt: index, at: end)
            }
            connections.formIndex(after: &index)
        }

        // Each node is changed in place through its index: a copy taken out
        // of the table would share its peers' storage, and the first change
        // to it would copy all of them.
        for pid in processes.keys.map(\.pid).sorted() {
            guard let index = processes.index(forKey: pid) else { continue }
            if var network = processes.values[index].network.take() {
                if expired(network, quiet: quiet, hold: hold) {
                    changes.append(change(.removed(.quiet), network, of: pid))
                } else {
                    reportUpdate(&network, of: pid, interval: interval, changes: &changes)
                    processes.values[index].network = network
                }
            }
            for address in processes.values[index].peers.keys.sorted(by: { $0.high == $1.high ? $0.low < $1.low : $0.high < $1.high }) {
                let peerIndex = processes.values[index].peers.index(forKey: address)!
                var edge = processes.values[index].peers.values[peerIndex]
                if expired(edge, quiet: quiet, hold: hold) {
                    processes.values[index].peers.remove(at: peerIndex)
                    changes.append(change(.removed(.quiet), edge, of: pid))
                } else {
                    reportUpdate(&edge, of: pid, interval: interval, changes: &changes)
                    processes.values[index].peers.values[peerIndex] = edge
                }
            }
            if Self.isIdle(&processes.values[index], at: now, quiet: quiet) { processes.remove(at: index) }
        }
        // Keys first: removing while iterating would copy the whole table.
        let expired = connections.compactMap { connectionExpired($0.value, quiet: quiet, hold: hold) ? $0.key.cookie : nil }
        for key in expired {
            if let index = connections.index(forKey: key), let end = connections.values[index].blocking.close(at: now) {
                unblock(connectionAt: index, at: end)
            }
            connections[key] = nil
        }
    }

    /// Bounded like the graph: when full, totals of processes that left it go.
    private mutating func addBlockedTime(_ nanoseconds: UInt64, of pid: UInt32) {
        if blockedNanosecondsByProcess[pid] == nil && blockedNanosecondsByProcess.count >= configuration.maximumProcesses {
            blockedNanosecondsByProcess = blockedNanosecondsByProcess.filter { processes[$0.key] != nil }
            guard blockedNanosecondsByProcess.count < configuration.maximumProcesses else { return }
        }
        blockedNanosecondsByProcess[pid, default: 0] += nanoseconds
    }

    /// A connection's spell ended: its process's edges learn it.
    /// In place through indices: a keyed change would move the node out of
    /// its table and back, and a node passed by value is a copy.
    /// `known`: a process whose index the caller holds, so that it is not
    /// looked up again when it is the connection's.
    private mutating func unblock(connectionAt connectionIndex: Dictionary<ConnectionKey, ConnectionNode>.Index, at end: UInt64,
                                  knowing known: (pid: UInt32, index: Dictionary<ProcessKey, ProcessNode>.Index)? = nil) {
        let key = connections.keys[connectionIndex].cookie
        let (pid, peer) = Self.ends(of: &connections.values[connectionIndex])
        guard let index = pid == known?.pid ? known?.index : processes.index(forKey: pid) else { return }
        let counted = processes.values[index].unblock(connection: key, to: peer, at: end)
        if counted > 0 { addBlockedTime(counted, of: pid) }
    }

    /// Takes the node in place (inout): a read through Dictionary.Values
    /// copies the whole node.
    private static func ends(of connection: inout ConnectionNode) -> (pid: UInt32, peer: IPAddress) {
        (connection.pid, connection.connection.remoteAddress)
    }

    /// Takes the node in place (inout): read by value, it would be copied whole.
    private static func isIdle(_ process: inout ProcessNode, at now: UInt64, quiet: UInt64) -> Bool {
        process.network == nil && process.peers.isEmpty && now &- process.lastSeen >= quiet
    }

    private func inBackoff(_ key: UInt64) -> Bool {
        connections[key]?.congestionState == .loss
    }

    private func expired(_ edge: WaitsOnEdge, quiet: UInt64, hold: UInt64) -> Bool {
        let silent = now &- edge.lastEvidence
        guard silent >= quiet else { return false }
        return silent >= hold || !edge.connections.contains(where: inBackoff)
    }

    private func connectionExpired(_ connection: ConnectionNode, quiet: UInt64, hold: UInt64) -> Bool {
        let silent = now &- connection.lastEvidence
        guard silent >= quiet else { return false }
        return silent >= hold || connection.congestionState != .loss
    }

    private mutating func reportUpdate(_ edge: inout WaitsOnEdge, of pid: UInt32, interval: UInt64,
                                       changes: inout [GraphChange]) {
        let key = EdgeKey(pid: pid, target: edge.target)
        let last = emitted[key]
        guard last == nil || now &- last!.time >= interval else { return }
        let figures = edge.figures(at: now)
        // A spell that ended is news too: its line carries the whole spell.
        if let last, last.retransmits == figures.retransmits, last.timeouts == figures.timeouts,
           !(last.blocked && figures.blockedForSeconds == 0) { return }
        changes.append(change(.updated, edge, of: pid, figures: figures))
    }

    // MARK: Removal and bounds

    private mutating func removeProcess(_ pid: UInt32, reason: EdgeRemoval, changes: inout [GraphChange]) {
        guard let process = processes.removeValue(forKey: ProcessKey(pid: pid)) else { return }
        if let network = process.network { changes.append(change(.removed(reason), network, of: pid, node: process)) }
        for address in process.peers.keys.sorted(by: { $0.high == $1.high ? $0.low < $1.low : $0.high < $1.high }) {
            changes.append(change(.removed(reason), process.peers[address]!, of: pid, node: process))
        }
        let owned = connections.compactMap { $0.value.pid == pid ? $0.key.cookie : nil }
        for key in owned { connections[key] = nil }
    }

    private mutating func evictOldestProcess(changes: inout [GraphChange]) {
        guard let oldest = processes.values.min(by: { ($0.lastSeen, $0.pid) < ($1.lastSeen, $1.pid) }) else { return }
        evictedProcesses += 1
        removeProcess(oldest.pid, reason: .evicted, changes: &changes)
    }

    private mutating func evictOldestConnection() {
        guard let oldest = connections.values.min(by: { ($0.lastEvidence, $0.cookie) < ($1.lastEvidence, $1.cookie) })
        else { return }
        evictedConnections += 1
        connections[oldest.cookie] = nil
    }

    private mutating func change(_ kind: GraphChange.Kind, _ edge: WaitsOnEdge, of pid: UInt32,
                                 figures: EdgeFigures? = nil, node: ProcessNode? = nil) -> GraphChange {
        var edge = edge
        let figures = figures ?? edge.figures(at: now)
        let key = EdgeKey(pid: pid, target: edge.target)
        if case .removed = kind {
            emitted[key] = nil
        } else {
            emitted[key] = (now, figures.retransmits, figures.timeouts, figures.blockedForSeconds > 0)
        }
        let process = node ?? processes[pid]
        return GraphChange(kind: kind, time: now, pid: pid, command: process?.command ?? Command(),
                           target: edge.target, since: edge.since, peer: edge.latestPeer, figures: figures)
    }

    // MARK: Queries

    /// How many processes wait on `peer` now.
    public func waiters(on peer: IPAddress) -> Int {
        processes.values.reduce(0) { $0 + ($1.peers[peer] == nil ? 0 : 1) }
    }

    /// Connections are keyed by socket cookie; the fallback hooks carry
    /// none, so the netns and 5-tuple stand in, folded into 64 bits with
    /// FNV-1a (deterministic, unlike Hasher, so replays agree) and the top
    /// bit set to keep clear of real cookies.
    public static func connectionKey(_ event: ProbeEvent) -> UInt64 {
        if event.socketCookie != 0 { return event.socketCookie }
        let c = event.connection
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for word in [UInt64(event.networkNamespace), c.localAddress.high, c.localAddress.low,
                     c.remoteAddress.high, c.remoteAddress.low, UInt64(c.localPort) << 16 | UInt64(c.remotePort)] {
            for shift in stride(from: 0, to: 64, by: 8) {
                hash = (hash ^ (word >> UInt64(shift) & 0xff)) &* 0x100_0000_01b3
            }
        }
        return hash | 1 << 63
    }
}

extension ProcessNode {
    /// A connection's spell began: its network edge and its peer's (at
    /// `peerIndex`) learn it. Mutating, so that a node in a table is
    /// changed in place.
    mutating func block(connection key: UInt64, toPeerAt peerIndex: [IPAddress: WaitsOnEdge].Index, since start: UInt64) {
        network?.blocking.connection(key, blockedSince: start)
        peers.values[peerIndex].blocking.connection(key, blockedSince: start)
    }

    /// A connection's spell ended; returns the nanoseconds it adds to the
    /// network edge's blocked time.
    mutating func unblock(connection key: UInt64, to peer: IPAddress, at end: UInt64) -> UInt64 {
        let counted = network?.blocking.connection(key, unblockedAt: end) ?? 0
        if let index = peers.index(forKey: peer) { peers.values[index].blocking.connection(key, unblockedAt: end) }
        return counted
    }
}
