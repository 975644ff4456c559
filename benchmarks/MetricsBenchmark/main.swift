// The cost of --metrics: what the agent adds per event (filter, traffic
// counters, lag timestamp; a write every 256 events), and one scrape's
// rendering at the bounds (4,096 pids, 1,024 cgroups).
//
// usage: ark-probe-metrics-bench [EVENTS]   (prints one JSON line)
import Agent
import Metrics
import ProbeEvents
import StateGraph
#if canImport(Glibc)
import Glibc
#endif

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000

func now() -> UInt64 { WallClock.monotonicNow() }

/// The pipeline benchmark's mix: 64 processes, 16 cgroups, mostly
/// retransmits, some drops; 1 µs apart. 4,096 of them, replayed: in the
/// agent an event is decoded from a record in the ring, in cache, so the
/// figure must not be that of streaming a large array from memory.
var events: [ProbeEvent] = []
events.reserveCapacity(4096)
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
for index in 0..<4096 {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    let connection = UInt32((state >> 20) % 256)
    let isDrop = state >> 60 >= 14
    events.append(ProbeEvent(
        kind: isDrop ? .drop : .retransmit, monotonicNanoseconds: 1_000_000_000 + UInt64(index) * 1_000,
        owner: SocketOwner(pid: 1000 + connection % 64, command: Command("trainer"), source: .socket),
        socketCgroupID: UInt64(connection % 16), segments: UInt32(1 + (state >> 8) % 4),
        cause: (state >> 4) % 16 == 0 ? .rto : .fastRetransmit, dropReason: 12))
}

/// Nanoseconds per event of the agent's extra work.
func countEvents(_ events: [ProbeEvent], count: Int) -> Double {
    let filter = EventFilter()
    var counters = EventCounters()
    let start = now()
    for index in 0..<count {
        let event = events[index & 4095]
        if filter.accepts(event) { counters.count(event) }
        if index & 255 == 255 { counters.written(at: event.monotonicNanoseconds + 1_000_000) }
    }
    return Double(now() - start) / Double(count)
}
let perEvent = countEvents(events, count: count)

// A scrape at the bounds: every pid ProcessTotals keeps, cgroups to the limit.
var totals = ProcessTotals()
var full = EventCounters()
for pid in 0..<UInt32(ProcessTotals.maximumProcesses) {
    let event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 1, owner: SocketOwner(pid: pid, command: Command("worker")),
                           socketCgroupID: UInt64(pid % 1024), segments: pid % 7 + 1)
    totals.add(event)
    full.count(event)
}
let health = AgentHealth(
    recordsRead: 1, recordsLost: 0, wrongSizeRecords: 0, unknownKindRecords: 0, eventsWritten: 1, alertsWritten: 0,
    ruleEvaluation: LatencyHistogram(upperBoundsNanoseconds: Pipeline.ruleEvaluationBounds), residentBytes: 1,
    graphEvictedProcesses: 0, graphEvictedConnections: 0, scrapes: 1, refusedConnections: 0, timedOutConnections: 0)
var metrics = AgentMetrics(options: MetricsOptions(), rules: nil, info: [("retransmit_hook", "tp_btf")])
let graph = StateGraph()
var bytes = 0
let scrapes = 100
let renderStart = now()
for _ in 0..<scrapes {
    var text = MetricsText()
    metrics.render(counters: full, totals: totals, graph: graph, dropReasonNames: [:], health: health, into: &text)
    bytes = text.bytes.count
}
let perScrape = Double(now() - renderStart) / Double(scrapes)
print("{\"events\":\(count),\"ns_per_event\":\(Int(perEvent * 10) / 10),"
      + "\"scrape_ms_at_bounds\":\(Int(perScrape / 1e4) / 100),\"scrape_bytes\":\(bytes)}")
