import ProbeEvents
import WorkloadIdentity

/// The graph at one moment as Graphviz dot or as one JSON object, for a
/// person who wants to see who waits on whom. Deterministic order.
extension StateGraph {
    /// `digraph`: processes (boxes) point to the network they see and to
    /// their peers (ellipses) with WaitsOn edges labelled with their figures,
    /// and to their connections with recent evidence (owns).
    public func dot(at time: UInt64) -> String {
        var text = "digraph ark_probe {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n"
        // A job's processes in one box, with its ranks that wait on nothing.
        let jobs = processesByJob()
        var grouped: Set<UInt32> = []
        for (index, job) in jobs.enumerated() {
            text += "  subgraph \"cluster_job_\(index)\" {\n    label=\"job \(escapeDot(job.key))\";\n    style=rounded;\n"
            for pid in job.pids {
                text += "  " + processNode(pid)
                grouped.insert(pid)
            }
            text += "  }\n"
        }
        var peers: Set<IPAddress> = []
        for pid in processes.keys.map(\.pid).sorted() {
            let process = processes[pid]!
            let node = Entity.process(pid).description
            if !grouped.contains(pid) { text += processNode(pid) }
            if var network = process.network {
                let figures = network.figures(at: time)
                let target = network.target.description
                text += "  \"\(target)\" [shape=ellipse,label=\"network of \(pid)\"];\n"
                text += "  \"\(node)\" -> \"\(target)\" [label=\"\(label(figures))\",color=red];\n"
            }
            for address in process.peers.keys.sorted(by: IPAddress.ordered) {
                var edge = process.peers[address]!
                let figures = edge.figures(at: time)
                peers.insert(address)
                text += "  \"\(node)\" -> \"\(edge.target)\" [label=\"\(label(figures))\",color=orange];\n"
            }
            for cookie in connections.keys.map(\.cookie).sorted() where connections[cookie]!.pid == pid {
                let connection = connections[cookie]!
                let c = connection.connection
                text += "  \"connection-\(cookie)\" [shape=note,label=\"\(c.localAddress):\(c.localPort) -> "
                    + "\(c.remoteAddress):\(c.remotePort)\\n\(connection.congestionState.name)\"];\n"
                text += "  \"\(node)\" -> \"connection-\(cookie)\" [label=\"owns\",style=dashed];\n"
            }
        }
        for address in peers.sorted(by: IPAddress.ordered) {
            text += "  \"\(Entity.peer(address))\" [shape=ellipse,label=\"peer \(address)\"];\n"
        }
        return text + "}\n"
    }

    /// Each job with a process known on this node, by key, and its
    /// processes (ranks first, by rank), whether or not they wait.
    public func processesByJob() -> [(key: String, pids: [UInt32])] {
        var jobs: [String: [UInt32]] = [:]
        for (pid, entry) in identities.entries {
            if let job = entry.identity.job { jobs[job.description, default: []].append(pid) }
        }
        return jobs.keys.sorted().map { key in
            (key, jobs[key]!.sorted {
                (identities[$0]?.identity.launcher.rank ?? .max, $0) < (identities[$1]?.identity.launcher.rank ?? .max, $1)
            })
        }
    }

    /// A process's box: pid, comm, and its rank when it has one.
    private func processNode(_ pid: UInt32) -> String {
        let command = processes[pid]?.command ?? identities[pid]?.command ?? Command()
        let rank = identities[pid]?.identity.launcher.rank.map { "\\nrank \($0)" } ?? ""
        return "  \"\(Entity.process(pid))\" [shape=box,label=\"\(pid) \(escapeDot(command.description))\(rank)\"];\n"
    }

    /// `{"processes":[…],"connections":[…],"evicted_processes":N,…}`.
    public func json(at time: UInt64) -> String {
        var line = JSONLineWriter(capacity: 4096)
        line.beginObject()
        line.field("ktime_ns", time)
        line.key("processes")
        line.beginArray()
        for pid in processes.keys.map(\.pid).sorted() {
            let process = processes[pid]!
            line.beginArrayObject()
            line.field("entity_id", Entity.process(pid).description)
            line.field("pid", UInt64(pid))
            line.field("comm", process.command)
            line.field("cgroup_id", process.cgroupID)
            line.appendFields(identityFields(of: pid))
            line.key("waits_on")
            line.beginArray()
            var edges = process.network.map { [$0] } ?? []
            edges += process.peers.keys.sorted(by: IPAddress.ordered).map { process.peers[$0]! }
            for var edge in edges {
                let figures = edge.figures(at: time)
                line.beginArrayObject()
                line.field("to", edge.target.description)
                line.field("retransmit_rate", figures.retransmitRate)
                line.field("retransmits", figures.retransmits)
                line.field("rtos", figures.timeouts)
                line.field("failed", figures.failures)
                line.field("backoff", UInt64(figures.backoff))
                line.field("connections", UInt64(figures.connections))
                line.field("held_s", figures.heldSeconds)
                line.field("quiet_s", figures.quietSeconds)
                line.endNestedObject()
            }
            line.endArray()
            line.endNestedObject()
        }
        line.endArray()
        line.key("connections")
        line.beginArray()
        for cookie in connections.keys.map(\.cookie).sorted() {
            let connection = connections[cookie]!
            let c = connection.connection
            line.beginArrayObject()
            line.field("entity_id", Entity.connection(cookie).description)
            line.field("pid", UInt64(connection.pid))
            line.field("saddr", c.localAddress)
            line.field("sport", UInt64(c.localPort))
            line.field("daddr", c.remoteAddress)
            line.field("dport", UInt64(c.remotePort))
            line.field("ca_state", plain: connection.congestionState.name)
            line.field("backoff", UInt64(connection.backoff))
            line.endNestedObject()
        }
        line.endArray()
        line.key("jobs")
        line.beginArray()
        for job in processesByJob() {
            line.beginArrayObject()
            line.field("job", job.key)
            line.key("processes")
            line.beginArray()
            for pid in job.pids {
                line.beginArrayObject()
                line.field("pid", UInt64(pid))
                if let rank = identities[pid]?.identity.launcher.rank { line.field("rank", UInt64(rank)) }
                var network = processes[pid]?.network
                line.field("waits_on_network", network != nil)
                line.field("blocked_1s", network?.figures(at: time).blockedLastSecond ?? 0)
                line.endNestedObject()
            }
            line.endArray()
            line.endNestedObject()
        }
        line.endArray()
        line.field("evicted_processes", evictedProcesses)
        line.field("evicted_connections", evictedConnections)
        line.endLine()
        return String(decoding: line.bytes, as: UTF8.self)
    }

    private func label(_ figures: EdgeFigures) -> String {
        var rate = JSONLineWriter(capacity: 16)
        rate.appendNumber(figures.retransmitRate)
        return "waits_on\\n\(String(decoding: rate.bytes, as: UTF8.self)) seg/s, \(figures.timeouts) RTO"
    }

    private func escapeDot(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\"" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

extension IPAddress {
    /// Numeric order, for stable output.
    public static func ordered(_ lhs: IPAddress, _ rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}
