import KernelProbe
import Metrics
import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph
import WorkloadIdentity
#if canImport(Glibc)
import Glibc
#endif

/// Bounds of the metrics endpoint's per-process and per-cgroup series.
public struct MetricsOptions: Sendable {
    /// At most this many pids (and cgroups) get series of their own; the
    /// rest are summed into one `pid="other"` (`cgroup_id="other"`) series.
    public var processSeries = 50
    public var cgroupSeries = 50

    public init() {}
}

/// What the agent counted, in the terms of `ProcessTotals`.
struct TrafficCounts: Equatable {
    var retransmittedSegments: UInt64 = 0
    var retransmitTimeouts: UInt64 = 0
    var failedSegments: UInt64 = 0
    var kernelDrops: UInt64 = 0

    init() {}

    init(_ entry: ProcessTotals.Entry) {
        retransmittedSegments = entry.retransmittedSegments
        retransmitTimeouts = entry.rtoEvents
        failedSegments = entry.failedSegments
        kernelDrops = entry.kernelDrops
    }

    mutating func add(_ event: ProbeEvent) {
        switch event.kind {
        case .retransmit, .synAckRetransmit:
            if event.error == 0 {
                retransmittedSegments += UInt64(event.segments)
                if event.cause == .rto { retransmitTimeouts += 1 }
            } else {
                failedSegments += UInt64(event.segments)
            }
        case .drop:
            kernelDrops += 1
        case .congestionState, .processExit:
            break
        }
    }

    var activity: UInt64 { retransmittedSegments + failedSegments + kernelDrops }

    /// What `lhs` has beyond `rhs` (never negative: a scrape must not trap).
    static func - (lhs: TrafficCounts, rhs: TrafficCounts) -> TrafficCounts {
        func beyond(_ a: UInt64, _ b: UInt64) -> UInt64 { a > b ? a - b : 0 }
        var result = TrafficCounts()
        result.retransmittedSegments = beyond(lhs.retransmittedSegments, rhs.retransmittedSegments)
        result.retransmitTimeouts = beyond(lhs.retransmitTimeouts, rhs.retransmitTimeouts)
        result.failedSegments = beyond(lhs.failedSegments, rhs.failedSegments)
        result.kernelDrops = beyond(lhs.kernelDrops, rhs.kernelDrops)
        return result
    }

    static func += (lhs: inout TrafficCounts, rhs: TrafficCounts) {
        lhs.retransmittedSegments += rhs.retransmittedSegments
        lhs.retransmitTimeouts += rhs.retransmitTimeouts
        lhs.failedSegments += rhs.failedSegments
        lhs.kernelDrops += rhs.kernelDrops
    }
}

/// What the agent counts per event for the metrics endpoint, besides what
/// the pipeline keeps: traffic per cgroup and drop reason, and output lag.
public struct EventCounters {
    /// Events whose lag one write observes at most (a bounded buffer).
    static let lagSamplesPerWrite = 16384
    var traffic = TrafficCounters()
    /// Kernel times of the events counted since the last write.
    private var unwrittenEventTimes: [UInt64] = []
    private(set) var outputLag = LatencyHistogram(upperBoundsNanoseconds: AgentMetrics.outputLagBounds)

    public init() {
        unwrittenEventTimes.reserveCapacity(Self.lagSamplesPerWrite)
    }

    /// An event the pipeline accepts; its line goes out at the next write.
    public mutating func count(_ event: ProbeEvent) {
        traffic.add(event)
        if unwrittenEventTimes.count < Self.lagSamplesPerWrite {
            unwrittenEventTimes.append(event.monotonicNanoseconds)
        }
    }

    /// The lines of every event counted so far were written at `time`
    /// (CLOCK_MONOTONIC ns).
    public mutating func written(at time: UInt64) {
        guard !unwrittenEventTimes.isEmpty else { return }
        for eventTime in unwrittenEventTimes { outputLag.observe(nanoseconds: time > eventTime ? time - eventTime : 0) }
        unwrittenEventTimes.removeAll(keepingCapacity: true)
    }
}

/// Slots of cgroup ids: open addressing with linear probing over a table
/// twice the bound, hashed by one multiplication. Swift's Dictionary would
/// spend most of the per-event cost hashing (SipHash).
struct CgroupSlots {
    static let tableBits = 11
    private var keys = [UInt64](repeating: 0, count: 1 << tableBits)
    /// -1: empty.
    private var slots = [Int32](repeating: -1, count: 1 << tableBits)
    private(set) var count = 0

    /// The slot of `key`, inserting it as the next slot if there is room
    /// (`limit`); nil when full.
    mutating func slot(of key: UInt64, limit: Int) -> Int? {
        let mask = (1 << Self.tableBits) - 1
        var index = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> (64 - UInt64(Self.tableBits)))
        while slots[index] >= 0 {
            if keys[index] == key { return Int(slots[index]) }
            index = (index + 1) & mask
        }
        guard count < limit, count < (1 << Self.tableBits) / 2 else { return nil }
        keys[index] = key
        slots[index] = Int32(count)
        count += 1
        return count - 1
    }

    /// Every key with its slot.
    var all: [(key: UInt64, slot: Int)] {
        zip(keys, slots).filter { $0.1 >= 0 }.map { ($0.0, Int($0.1)) }
    }
}

/// Per-event counts the pipeline does not keep: per socket cgroup
/// (bounded) and drops per reason code. Consecutive events mostly share a
/// cgroup, so the last one's slot is remembered.
struct TrafficCounters {
    static let maximumCgroups = 1024
    /// Reason codes below this are counted in an array; the kernel's enum
    /// is far smaller, and codes with subsystem bits go to "other".
    static let reasonCodes = 512

    private var cgroupSlots = CgroupSlots()
    private var cgroupCounts: [TrafficCounts] = []
    private var lastCgroup: UInt64 = 0
    private var lastSlot = -1
    /// Events of cgroups beyond `maximumCgroups`.
    private var untrackedCgroups = TrafficCounts()
    private(set) var dropsByReason = [UInt64](repeating: 0, count: reasonCodes)
    private(set) var dropsOfOtherReasons: UInt64 = 0

    mutating func add(_ event: ProbeEvent) {
        let cgroup = event.socketCgroupID
        if lastSlot < 0 || cgroup != lastCgroup {
            if let slot = cgroupSlots.slot(of: cgroup, limit: Self.maximumCgroups) {
                if slot == cgroupCounts.count { cgroupCounts.append(TrafficCounts()) }
                lastSlot = slot
            } else {
                lastSlot = -1
            }
            lastCgroup = cgroup
        }
        if lastSlot >= 0 {
            cgroupCounts[lastSlot].add(event)
        } else {
            untrackedCgroups.add(event)
        }
        if event.kind == .drop {
            if event.dropReason < Self.reasonCodes {
                dropsByReason[Int(event.dropReason)] += 1
            } else {
                dropsOfOtherReasons += 1
            }
        }
    }

    /// Every event counted.
    var all: TrafficCounts {
        var total = untrackedCgroups
        for counts in cgroupCounts { total += counts }
        return total
    }

    /// The cgroups with counts of their own.
    var cgroups: [UInt64: TrafficCounts] {
        Dictionary(uniqueKeysWithValues: cgroupSlots.all.map { ($0.key, cgroupCounts[$0.slot]) })
    }
}

/// Which keys (pids, cgroups) have series of their own. A key is decided
/// once, the first time a scrape sees it, and never again: keys new since
/// the last scrape are admitted, most active first, while there is room;
/// the rest stay in "other" for good. So no counter ever goes backwards:
/// a key admitted had nothing in "other" at any earlier scrape, and a key
/// in "other" never leaves it. The cost: a busy key first seen while the
/// set was full is only visible summed into "other".
struct SeriesSelection<Key: Hashable & Comparable> {
    let limit: Int
    private var admitted: [Key: Bool] = [:]
    private var admittedCount = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// The admitted keys among `candidates` (key, activity), ascending.
    mutating func select(_ candidates: [(key: Key, activity: UInt64)]) -> [Key] {
        let new = candidates.filter { admitted[$0.key] == nil }
            .sorted { $0.activity != $1.activity ? $0.activity > $1.activity : $0.key < $1.key }
        for candidate in new {
            let admit = admittedCount < limit
            admitted[candidate.key] = admit
            if admit { admittedCount += 1 }
        }
        return candidates.filter { admitted[$0.key] == true }.map(\.key).sorted()
    }
}

/// The agent's own figures for the health metrics.
public struct AgentHealth {
    var recordsRead: UInt64
    var recordsLost: UInt64
    var wrongSizeRecords: UInt64
    var unknownKindRecords: UInt64
    var eventsWritten: UInt64
    var alertsWritten: UInt64
    var ruleEvaluation: LatencyHistogram
    var residentBytes: UInt64?
    var graphEvictedProcesses: UInt64
    var graphEvictedConnections: UInt64
    var scrapes: UInt64
    var refusedConnections: UInt64
    var timedOutConnections: UInt64
    /// What the kernel counted instead of sending records (Probe.countedOnlyDrops).
    var countedOnlyDrops: [UInt32: UInt64]
    var countedOnlyCongestionChanges: UInt64

    public init(recordsRead: UInt64, recordsLost: UInt64, wrongSizeRecords: UInt64, unknownKindRecords: UInt64,
                eventsWritten: UInt64, alertsWritten: UInt64, ruleEvaluation: LatencyHistogram, residentBytes: UInt64?,
                graphEvictedProcesses: UInt64, graphEvictedConnections: UInt64, scrapes: UInt64,
                refusedConnections: UInt64, timedOutConnections: UInt64,
                countedOnlyDrops: [UInt32: UInt64] = [:], countedOnlyCongestionChanges: UInt64 = 0) {
        self.countedOnlyDrops = countedOnlyDrops
        self.countedOnlyCongestionChanges = countedOnlyCongestionChanges
        self.recordsRead = recordsRead
        self.recordsLost = recordsLost
        self.wrongSizeRecords = wrongSizeRecords
        self.unknownKindRecords = unknownKindRecords
        self.eventsWritten = eventsWritten
        self.alertsWritten = alertsWritten
        self.ruleEvaluation = ruleEvaluation
        self.residentBytes = residentBytes
        self.graphEvictedProcesses = graphEvictedProcesses
        self.graphEvictedConnections = graphEvictedConnections
        self.scrapes = scrapes
        self.refusedConnections = refusedConnections
        self.timedOutConnections = timedOutConnections
    }
}

/// Renders the agent's state as Prometheus text; keeps the series
/// selections between scrapes.
public struct AgentMetrics {
    static let outputLagBounds: [UInt64] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].map { $0 * 1_000_000 }

    private var processes: SeriesSelection<UInt32>
    private var cgroupSelection: SeriesSelection<UInt64>
    /// Per rule (in rule-file order): severity and alerts firing now. A
    /// list, not a table: a handful of rules, and no string hashing.
    private var rules: [RuleFiring]
    private struct RuleFiring {
        let name: String
        let severity: String
        var firing: Int64 = 0
    }
    private let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    /// Labels of `ark_probe_info`.
    let info: [(String, String)]

    public init(options: MetricsOptions, rules ruleSet: RuleSet?, info: [(String, String)]) {
        processes = SeriesSelection(limit: options.processSeries)
        cgroupSelection = SeriesSelection(limit: options.cgroupSeries)
        rules = (ruleSet?.rules ?? []).filter(\.isEnabled).map { RuleFiring(name: $0.name, severity: $0.severity.rawValue) }
        self.info = info
    }

    public mutating func count(_ alerts: [Alert]) {
        for alert in alerts { count(rule: alert.rule, severity: alert.severity, firing: alert.state == .firing) }
    }

    /// An alert of `rule` started (`firing`) or stopped firing.
    mutating func count(rule: String, severity: Severity, firing isFiring: Bool) {
        guard let index = rules.firstIndex(where: { $0.name == rule }) else {
            rules.append(RuleFiring(name: rule, severity: severity.rawValue, firing: isFiring ? 1 : 0))
            return
        }
        rules[index].firing += isFiring ? 1 : -1
    }

    public mutating func render(counters: EventCounters, totals: ProcessTotals, graph: StateGraph,
                                dropReasonNames: [UInt32: String], health: AgentHealth, into text: inout MetricsText) {
        let traffic = counters.traffic
        let all = traffic.all
        renderProcesses(all: all, totals: totals, blocked: graph.blockedNanosecondsByProcess, identities: graph.identities,
                        into: &text)
        renderCgroups(traffic: traffic, all: all, into: &text)

        text.family("ark_probe_kernel_drops_by_reason_total", .counter,
                    help: "TCP packets the kernel dropped, by enum skb_drop_reason (codes with subsystem bits: other); "
                        + "teardown reasons are counted in the kernel, without event lines.")
        for (code, sent) in traffic.dropsByReason.enumerated() {
            let count = sent + (health.countedOnlyDrops[UInt32(code)] ?? 0)
            guard count > 0 else { continue }
            let name = dropReasonNames[UInt32(code)] ?? "CODE_\(code)"
            text.sample("ark_probe_kernel_drops_by_reason_total", labels: [("reason", name)], count)
        }
        text.sample("ark_probe_kernel_drops_by_reason_total", ["reason": "other"], traffic.dropsOfOtherReasons)
        text.family("ark_probe_congestion_changes_counted_total", .counter,
                    help: "Congestion-state changes counted in the kernel without event lines (all but leaving Loss "
                        + "and CWR's: the retransmits tell the rest).")
        text.sample("ark_probe_congestion_changes_counted_total", [:], health.countedOnlyCongestionChanges)

        var networkEdges: UInt64 = 0, peerEdges: UInt64 = 0
        for process in graph.processes.values {
            if process.network != nil { networkEdges += 1 }
            peerEdges += UInt64(process.peers.count)
        }
        text.family("ark_probe_waits_on_edges", .gauge, help: "WaitsOn edges in the state graph now, by target.")
        text.sample("ark_probe_waits_on_edges", ["target": "network"], networkEdges)
        text.sample("ark_probe_waits_on_edges", ["target": "peer"], peerEdges)

        text.family("ark_probe_alerts_firing", .gauge, help: "Alerts firing now, by rule.")
        for rule in rules {
            text.sample("ark_probe_alerts_firing", labels: [("rule", rule.name), ("severity", rule.severity)],
                        UInt64(max(rule.firing, 0)))
        }

        renderHealth(health, outputLag: counters.outputLag, into: &text)
    }

    /// Per process: pid and comm, and its job and rank when known
    /// (`training_job`: Prometheus's own `job` label names the scrape job).
    private mutating func renderProcesses(all: TrafficCounts, totals: ProcessTotals, blocked: [UInt32: UInt64],
                                          identities: IdentityCache, into text: inout MetricsText) {
        let entries = totals.entries
        let exported = processes.select(entries.map { ($0.key, TrafficCounts($0.value).activity) })
        var series: [(labels: [(String, String)], counts: TrafficCounts)] = []
        var exportedSum = TrafficCounts()
        for pid in exported {
            let entry = entries[pid]!
            let counts = TrafficCounts(entry)
            exportedSum += counts
            var labels = [("pid", MetricsText.decimal(UInt64(pid))), ("comm", entry.command.description)]
            if let identity = identities[pid]?.identity {
                if let job = identity.job { labels.append(("training_job", job.description)) }
                if let rank = identity.launcher.rank { labels.append(("rank", MetricsText.decimal(UInt64(rank)))) }
            }
            series.append((labels, counts))
        }
        series.append(([("pid", "other")], all - exportedSum))
        Self.renderTraffic(series, scope: "", what: "process (pid=\"other\": every process without a series)",
                           into: &text)

        let name = "ark_probe_blocked_seconds_total"
        text.family(name, .counter, help: "Time a process's connections waited on loss recovery without progress, "
                    + "counted as each spell ends, by process (pid=\"other\": every process without a series).")
        var exportedBlocked: UInt64 = 0
        for (index, pid) in exported.enumerated() {
            let nanoseconds = blocked[pid] ?? 0
            exportedBlocked += nanoseconds
            text.sample(name, labels: series[index].labels, nanoseconds: nanoseconds)
        }
        let allBlocked = blocked.values.reduce(0, +)
        text.sample(name, labels: [("pid", "other")], nanoseconds: allBlocked - min(allBlocked, exportedBlocked))
    }

    private mutating func renderCgroups(traffic: TrafficCounters, all: TrafficCounts, into text: inout MetricsText) {
        let cgroups = traffic.cgroups
        let exported = cgroupSelection.select(cgroups.map { ($0.key, $0.value.activity) })
        var series: [(labels: [(String, String)], counts: TrafficCounts)] = []
        var exportedSum = TrafficCounts()
        for id in exported {
            let counts = cgroups[id]!
            exportedSum += counts
            series.append(([("cgroup_id", MetricsText.decimal(id))], counts))
        }
        series.append(([("cgroup_id", "other")], all - exportedSum))
        Self.renderTraffic(series, scope: "cgroup_", what: "socket cgroup v2 id (0: none recorded)", into: &text)
    }

    private static func renderTraffic(_ series: [(labels: [(String, String)], counts: TrafficCounts)],
                                      scope: String, what: String, into text: inout MetricsText) {
        let families: [(name: String, help: String, value: (TrafficCounts) -> UInt64)] = [
            ("retransmitted_segments_total", "TCP segments retransmitted (sent)", \.retransmittedSegments),
            ("retransmit_timeouts_total", "TCP retransmissions caused by a retransmission timeout (RTO)",
             \.retransmitTimeouts),
            ("failed_retransmit_segments_total", "TCP segments the kernel tried to retransmit but could not send",
             \.failedSegments),
            ("kernel_drops_total", "TCP packets the kernel dropped", \.kernelDrops),
        ]
        for family in families {
            let name = "ark_probe_" + scope + family.name
            text.family(name, .counter, help: family.help + ", by " + what + ".")
            for entry in series { text.sample(name, labels: entry.labels, family.value(entry.counts)) }
        }
    }

    private func renderHealth(_ health: AgentHealth, outputLag: LatencyHistogram, into text: inout MetricsText) {
        text.family("ark_probe_info", .gauge, help: "How the probe is attached (always 1).")
        text.sample("ark_probe_info", labels: info, 1)
        let counters: [(String, String, UInt64)] = [
            ("ark_probe_records_read_total", "Records read from the kernel ring buffer.", health.recordsRead),
            ("ark_probe_records_lost_total", "Records the kernel could not queue because the ring buffer was full.",
             health.recordsLost),
            ("ark_probe_events_written_total", "Event lines written.", health.eventsWritten),
            ("ark_probe_alerts_written_total", "Alert lines (firing and resolved) written.", health.alertsWritten),
        ]
        for (name, help, value) in counters {
            text.family(name, .counter, help: help)
            text.sample(name, [:], value)
        }
        text.family("ark_probe_decode_errors_total", .counter, help: "Ring-buffer records that could not be decoded, by problem.")
        text.sample("ark_probe_decode_errors_total", ["problem": "wrong_size"], health.wrongSizeRecords)
        text.sample("ark_probe_decode_errors_total", ["problem": "unknown_kind"], health.unknownKindRecords)
        text.family("ark_probe_graph_evictions_total", .counter,
                    help: "Entries the state graph evicted at its bounds, by kind.")
        text.sample("ark_probe_graph_evictions_total", ["kind": "process"], health.graphEvictedProcesses)
        text.sample("ark_probe_graph_evictions_total", ["kind": "connection"], health.graphEvictedConnections)
        text.family("ark_probe_output_lag_seconds", .histogram,
                    help: "From an event's kernel timestamp to the write of the batch that carried its line.")
        text.histogram("ark_probe_output_lag_seconds", outputLag)
        text.family("ark_probe_rule_evaluation_seconds", .histogram,
                    help: "Time of each tick's rule evaluation (graph subjects, pending and firing alerts).")
        text.histogram("ark_probe_rule_evaluation_seconds", health.ruleEvaluation)
        text.family("ark_probe_metrics_scrapes_total", .counter, help: "GET /metrics requests answered.")
        text.sample("ark_probe_metrics_scrapes_total", [:], health.scrapes)
        text.family("ark_probe_metrics_connections_closed_total", .counter,
                    help: "Metrics connections closed by the server, by reason.")
        text.sample("ark_probe_metrics_connections_closed_total", ["reason": "limit"], health.refusedConnections)
        text.sample("ark_probe_metrics_connections_closed_total", ["reason": "timeout"], health.timedOutConnections)
        if let resident = health.residentBytes {
            text.family("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.")
            text.sample("process_resident_memory_bytes", [:], resident)
        }
    }

    /// The `ark_probe_info` labels of an attached probe.
    static func info(_ report: AttachReport, kernel: String) -> [(String, String)] {
        [
            ("retransmit_hook", report.retransmitMode.rawValue),
            ("attribution", report.attributesBySocketOwner ? "socket-owner" : "current-task"),
            ("reports_failed_retransmits", report.reportsFailedRetransmits ? "true" : "false"),
            ("kernel", kernel),
        ]
    }

    /// Resident pages from /proc/self/statm, in bytes; nil if unreadable.
    func residentMemoryBytes() -> UInt64? {
        let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        // "size resident shared ...": the second number.
        guard var index = buffer[0..<count].firstIndex(of: UInt8(ascii: " ")) else { return nil }
        index += 1
        var pages: UInt64 = 0
        var digits = 0
        while index < count, buffer[index] >= UInt8(ascii: "0"), buffer[index] <= UInt8(ascii: "9") {
            pages = pages * 10 + UInt64(buffer[index] - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        return digits > 0 ? pages * pageSize : nil
    }
}
