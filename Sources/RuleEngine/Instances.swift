import ProbeEvents
import StateGraph
import WorkloadIdentity

/// Every graph-subject instance at one tick, built once per tick and shared
/// by all rules, in a stable order (replays must agree).
struct Instances {
    var networkEdges: [NetworkEdgeInstance] = []
    var peers: [PeerInstance] = []
    var connections: [ConnectionInstance] = []
    var kernelDrops: [KernelDropsInstance] = []
    var jobs: [JobInstance] = []

    /// Blocked time within the last second that makes a peer's waiter
    /// stalled: the shipped workload-stalled rule's threshold.
    static let stalledSeconds = 0.6
    /// Up to how many processes a tick keeps connection owners at hand
    /// (searched one by one).
    static let ownersRemembered = 8

    /// Builds the instances of the subjects in `needed` only. Connection
    /// instances are taken from `spareConnections` (the last tick's) where
    /// nothing else holds them.
    init(graph: StateGraph, drops: inout [KernelDropKey: KernelDropCount], at time: UInt64, needed: Set<Subject>,
         spareConnections: inout [ConnectionInstance]) {
        var peersByAddress: [IPAddress: PeerInstance] = [:]
        // Asked once: a `where` clause asks for each element, and a Subject
        // is hashed with a Hasher.
        let needsEdges = needed.contains(.waitsOnNetwork)
        let needsConnections = needed.contains(.connection)
        let needsDrops = needed.contains(.kernelDrops)
        let needsPeers = needed.contains(.peer) || needsEdges
        for pid in graph.processes.keys.map(\.pid).sorted() where needsPeers {
            let process = graph.processes[pid]!
            for (address, edge) in process.peers {
                var edge = edge
                let figures = edge.figures(at: time)
                var peer = peersByAddress[address] ?? PeerInstance(address: address)
                peer.waiters += 1
                if figures.blockedLastSecond >= Self.stalledSeconds { peer.stalledWaiters += 1 }
                if figures.blockedForSeconds > 0 { peer.blockedWaiters += 1 }
                peer.blockedForSeconds = max(peer.blockedForSeconds, figures.blockedForSeconds)
                peer.retransmits += figures.retransmits
                peer.timeouts += figures.timeouts
                peer.retransmitRate += figures.retransmitRate
                peer.windowSeconds = figures.windowSeconds
                peersByAddress[address] = peer
            }
        }
        // Each array is sized once: grown step by step, the large instances
        // were copied again at each step.
        if needsEdges { networkEdges.reserveCapacity(graph.processes.count) }
        for pid in graph.processes.keys.map(\.pid).sorted() where needsEdges {
            let process = graph.processes[pid]!
            guard var edge = process.network else { continue }
            let figures = edge.figures(at: time)
            networkEdges.append(NetworkEdgeInstance(
                process: process, figures: figures, peer: edge.latestPeer,
                peerWaiters: peersByAddress[edge.latestPeer]?.waiters ?? 0, identity: graph.identities[pid]))
        }
        peers = peersByAddress.values.sorted { ($0.address.high, $0.address.low) < ($1.address.high, $1.address.low) }
        if needsConnections {
            // Read in table order, then sorted: a lookup per sorted key
            // hashed each key again and copied each node out of the table.
            connections.reserveCapacity(graph.connections.count)
            // With a few processes, their owners met so far are searched
            // before the graph's tables: a table lookup copied the process
            // node and hashed its pid with a Hasher, once per connection.
            let remembersOwners = graph.processes.count <= Self.ownersRemembered
            var owners: [(pid: UInt32, command: Command, identity: IdentityCache.Entry?)] = []
            for var node in graph.connections.values {
                let owner: (pid: UInt32, command: Command, identity: IdentityCache.Entry?)
                if remembersOwners, let known = owners.first(where: { $0.pid == node.pid }) {
                    owner = known
                } else {
                    owner = (node.pid, graph.processes[node.pid]?.command ?? Command(), graph.identities[node.pid])
                    if remembersOwners { owners.append(owner) }
                }
                let counts = node.counts(at: time)
                let figures = ConnectionFigures(
                    node: node, command: owner.command,
                    retransmits: counts.retransmits, timeouts: counts.timeouts, rate: counts.rate,
                    quietSeconds: Double(time &- node.lastEvidence) / 1e9,
                    windowSeconds: graph.configuration.windowSeconds, blockedForSeconds: node.blockedForSeconds(at: time),
                    blockedLastSecond: node.blockedLastSecond(at: time), identity: owner.identity)
                // A spare that an alert still holds (its held subject) keeps
                // the figures it was held with.
                if var spare = spareConnections.popLast(), isKnownUniquelyReferenced(&spare) {
                    spare.figures = consume figures
                    connections.append(spare)
                } else {
                    connections.append(ConnectionInstance(consume figures))
                }
            }
            connections.sort { $0.figures.cookie < $1.figures.cookie }
        }
        if needed.contains(.job) { jobs = JobInstance.all(in: graph, at: time) }
        let dropKeys = needsDrops ? drops.map { (id: $0.value.id, key: $0.key) }.sorted { $0.id < $1.id } : []
        for (_, key) in dropKeys {
            let count = drops[key]!.window.total(at: time)
            guard count > 0, case .kernelDrops(let netns, let reason) = drops[key]!.entity else {
                drops[key] = nil
                continue
            }
            // Two codes a trace gave one name are one entity, as before.
            if let last = kernelDrops.last, last.netns == netns, last.reason == reason {
                kernelDrops[kernelDrops.count - 1].drops += count
                continue
            }
            kernelDrops.append(KernelDropsInstance(
                netns: netns, reason: reason, drops: count, windowSeconds: drops[key]!.window.seconds))
        }
    }
}

/// Kernel drops are counted per namespace and reason code, looked up per
/// drop event: a key of two numbers hashes without a Hasher, where the
/// entity (with the reason's name) runs one over the name.
struct KernelDropKey: Hashable {
    let netns: UInt32
    let code: UInt32
    /// 0 for the count new drops go to; else a count kept under the text
    /// its reason had before a replay learnt the reason's name.
    let retired: UInt32

    func _rawHashValue(seed: Int) -> Int {
        tableHash(UInt64(netns) << 32 | UInt64(code) ^ UInt64(retired) &* 0x9E37_79B9_7F4A_7C15, seed: seed)
    }
}

struct KernelDropCount {
    let entity: AlertEntity
    /// The entity's id, made once: ticks order the counts by it.
    let id: String
    var window: SlidingWindow

    init(entity: AlertEntity, window: SlidingWindow) {
        self.entity = entity
        id = entity.description
        self.window = window
    }
}
