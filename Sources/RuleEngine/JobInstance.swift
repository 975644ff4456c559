import ProbeEvents
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// One job's processes on this node, grouped by rank (a rank's helper
/// processes inherit its environment, so they are that rank), and the rank
/// the network holds up most: its worst connection and that peer.
struct JobInstance: SubjectInstance {
    /// A rank on this node; processes without a rank stand alone, by pid.
    struct Rank {
        let rank: UInt32?
        let pid: UInt32
        let command: Command
        var blockedLastSecond = 0.0
        var blockedForSeconds = 0.0
        var blockedSeconds = 0.0

        var name: String { rank.map { "rank \($0)" } ?? "task \(pid)" }
    }

    /// The rank's connection that was blocked longest in the last second.
    struct Culprit {
        let rank: Rank
        let connection: ConnectionNode?
        let retransmits: UInt64
        let timeouts: UInt64
        let peer: IPAddress?
    }

    let job: String
    let worldSize: UInt32?
    let ranks: [Rank]
    let culprit: Culprit?
    let windowSeconds: Double

    var entity: AlertEntity { .job(job) }
    /// A job alert stays one alert while its culprit changes.
    var pid: UInt32 { 0 }

    var stalled: [Rank] { ranks.filter { $0.blockedLastSecond >= Instances.stalledSeconds } }

    func value(_ field: String) -> Value {
        switch field {
        case "job": return .string(job)
        case "ranks": return .number(Double(ranks.count))
        case "world_size": return worldSize.map { .number(Double($0)) } ?? .missing
        case "rank_list": return .string(Self.list(ranks))
        case "stalled_ranks": return .number(Double(stalled.count))
        case "blocked_ranks": return .number(Double(ranks.filter { $0.blockedForSeconds > 0 }.count))
        case "stalled_rank_list": return .string(Self.list(stalled))
        case "waiting_ranks":
            let others = ranks.filter { $0.pid != culprit?.rank.pid && $0.blockedLastSecond < Instances.stalledSeconds }
            return .string(others.isEmpty ? "none" : Self.list(others))
        case "window": return .number(windowSeconds)
        default: break
        }
        guard let culprit else { return field == "blocked_1s" || field == "blocked_for" || field == "blocked" ? .number(0) : .missing }
        switch field {
        case "culprit": return .string("\(culprit.rank.name) (task \(culprit.rank.pid), \(culprit.rank.command))")
        case "culprit_rank": return culprit.rank.rank.map { .number(Double($0)) } ?? .missing
        case "culprit_pid": return .number(Double(culprit.rank.pid))
        case "culprit_comm": return .string(culprit.rank.command.description)
        case "peer": return culprit.peer.map { .string($0.description) } ?? .missing
        case "connection":
            guard let connection = culprit.connection?.connection else { return .missing }
            return .string("\(connection.localAddress):\(connection.localPort) -> \(connection.remoteAddress):\(connection.remotePort)")
        case "rtos": return .number(Double(culprit.timeouts))
        case "retransmits": return .number(Double(culprit.retransmits))
        case "blocked": return .number(culprit.rank.blockedSeconds)
        case "blocked_for": return .number(culprit.rank.blockedForSeconds)
        case "blocked_1s": return .number(culprit.rank.blockedLastSecond)
        default: return .missing
        }
    }

    /// Ranks as text, runs joined: "0-3, 6, task 4242".
    static func list(_ ranks: [Rank]) -> String {
        let numbers = Set(ranks.compactMap(\.rank)).sorted()
        var parts: [String] = []
        var index = 0
        while index < numbers.count {
            var end = index
            while end + 1 < numbers.count, numbers[end + 1] == numbers[end] + 1 { end += 1 }
            parts.append(end == index ? "\(numbers[index])" : "\(numbers[index])-\(numbers[end])")
            index = end + 1
        }
        parts += ranks.filter { $0.rank == nil }.map(\.name)
        return parts.joined(separator: ", ")
    }

    /// Every job with a process on this node, in the order of their keys.
    static func all(in graph: StateGraph, at time: UInt64) -> [JobInstance] {
        let jobs = graph.processesByJob()
        guard !jobs.isEmpty else { return [] }
        // Each member's worst connection, found in one pass.
        var worst: [UInt32: (blocked: Double, cookie: UInt64)] = [:]
        for (key, node) in graph.connections where graph.identities[node.pid]?.identity.job != nil {
            var node = node
            let blocked = node.blockedLastSecond(at: time)
            if let known = worst[node.pid], known.blocked > blocked || (known.blocked == blocked && known.cookie < key.cookie) {
                continue
            }
            worst[node.pid] = (blocked, key.cookie)
        }
        return jobs.map { job in
            // In rank order, then by pid: a rank's first process stands for it.
            var ranks: [Rank] = []
            var byRank: [UInt32: Int] = [:]
            var worldSize: UInt32?
            for pid in job.pids {
                let entry = graph.identities[pid]!
                worldSize = worldSize ?? entry.identity.launcher.worldSize
                var rank = Rank(rank: entry.identity.launcher.rank, pid: pid, command: entry.command)
                if var edge = graph.processes[pid]?.network {
                    let figures = edge.figures(at: time)
                    rank.blockedLastSecond = figures.blockedLastSecond
                    rank.blockedForSeconds = figures.blockedForSeconds
                    rank.blockedSeconds = figures.blockedSeconds
                }
                if let number = rank.rank, let index = byRank[number] {
                    // A helper of a rank already listed: the rank is as blocked as its worst process.
                    if rank.blockedLastSecond > ranks[index].blockedLastSecond { ranks[index] = rank }
                    continue
                }
                if let number = rank.rank { byRank[number] = ranks.count }
                ranks.append(rank)
            }
            // Blocked now first, then over the window: a stall that just
            // ended still has its culprit (the resolved line names it).
            let worstRank = ranks.filter { $0.blockedSeconds > 0 || $0.blockedForSeconds > 0 }.max {
                ($0.blockedLastSecond, $0.blockedForSeconds, $0.blockedSeconds)
                    < ($1.blockedLastSecond, $1.blockedForSeconds, $1.blockedSeconds)
            }
            var culprit: Culprit?
            if let worstRank {
                var connection = worst[worstRank.pid].flatMap { graph.connections[$0.cookie] }
                let counts = connection?.counts(at: time)
                culprit = Culprit(rank: worstRank, connection: connection, retransmits: counts?.retransmits ?? 0,
                                  timeouts: counts?.timeouts ?? 0,
                                  peer: connection?.connection.remoteAddress ?? graph.processes[worstRank.pid]?.network?.latestPeer)
            }
            return JobInstance(job: job.key, worldSize: worldSize, ranks: ranks, culprit: culprit, windowSeconds: graph.configuration.windowSeconds)
        }
    }
}
