import Metrics
import XCTest
@testable import Agent
import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph
import WorkloadIdentity

final class AgentMetricsTests: XCTestCase {
    func retransmit(pid: UInt32, cgroup: UInt64, segments: UInt32, cause: RetransmitCause = .fastRetransmit,
                    error: Int32 = 0) -> ProbeEvent {
        ProbeEvent(kind: .retransmit, monotonicNanoseconds: 1, owner: SocketOwner(pid: pid, command: Command("app\(pid)")),
                   socketCgroupID: cgroup, segments: segments, error: error, cause: cause)
    }

    func drop(pid: UInt32, cgroup: UInt64, reason: UInt32) -> ProbeEvent {
        ProbeEvent(kind: .drop, monotonicNanoseconds: 1, owner: SocketOwner(pid: pid, command: Command("app\(pid)")),
                   socketCgroupID: cgroup, dropReason: reason)
    }

    /// Agent state fed with `events`, as the agent feeds it.
    struct State {
        var counters = EventCounters()
        var totals = ProcessTotals()
        var graph = StateGraph()

        mutating func add(_ events: [ProbeEvent]) {
            var changes: [GraphChange] = []
            for event in events {
                counters.count(event)
                totals.add(event)
                graph.apply(event, changes: &changes)
            }
        }
    }

    let health = AgentHealth(
        recordsRead: 7, recordsLost: 2, wrongSizeRecords: 0, unknownKindRecords: 1, eventsWritten: 6,
        alertsWritten: 1, ruleEvaluation: LatencyHistogram(upperBoundsNanoseconds: [10_000]), residentBytes: 4096,
        graphEvictedProcesses: 0, graphEvictedConnections: 3, scrapes: 1, refusedConnections: 0, timedOutConnections: 0,
        countedOnlyDrops: [3: 4, 67: 5], countedOnlyCongestionChanges: 9)

    func render(_ metrics: inout AgentMetrics, _ state: State) -> String {
        var text = MetricsText()
        metrics.render(counters: state.counters, totals: state.totals, graph: state.graph,
                       dropReasonNames: [2: "NOT_SPECIFIED", 3: "NO_SOCKET", 67: "QUEUE_PURGE"], health: health, into: &text)
        return text.text
    }

    /// An RTO (RTO 200 ms) at 1 s whose socket leaves Loss at 1.3 s: 0.5 s
    /// blocked, counted when the spell ends, never while it runs.
    func testBlockedTimeIsCountedPerProcessAsSpellsEnd() throws {
        var metrics = AgentMetrics(options: MetricsOptions(), rules: nil, info: [])
        var state = State()
        var timeout = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 1_000_000_000,
                                 owner: SocketOwner(pid: 30, command: Command("app30")), socketCookie: 5, segments: 1,
                                 cause: .rto, congestionState: .loss)
        timeout.retransmitTimeoutMicroseconds = 200_000
        state.add([timeout])
        func blocked() -> [String] {
            render(&metrics, state).split(separator: "\n").map(String.init).filter { $0.hasPrefix("ark_probe_blocked_seconds_total") }
        }
        XCTAssertEqual(blocked(), [#"ark_probe_blocked_seconds_total{pid="30",comm="app30"} 0"#,
                                   #"ark_probe_blocked_seconds_total{pid="other"} 0"#])
        state.add([ProbeEvent(kind: .congestionState, monotonicNanoseconds: 1_300_000_000,
                              owner: SocketOwner(pid: 30, command: Command("app30")), socketCookie: 5,
                              congestionState: .open, previousCongestionState: .loss)])
        XCTAssertEqual(blocked(), [#"ark_probe_blocked_seconds_total{pid="30",comm="app30"} 0.5"#,
                                   #"ark_probe_blocked_seconds_total{pid="other"} 0"#])
        // Its job and rank, once known, label its series.
        var identity = WorkloadIdentity()
        identity.launcher.runID = "llama"
        identity.launcher.rank = 3
        state.graph.identify(30, as: identity, command: Command("app30"))
        XCTAssertEqual(blocked(), [#"ark_probe_blocked_seconds_total{pid="30",comm="app30",training_job="run:llama",rank="3"} 0.5"#,
                                   #"ark_probe_blocked_seconds_total{pid="other"} 0"#])
    }

    func testExpositionOfAKnownState() throws {
        let rules = try RuleEngine.load(files: [(path: "r.yaml", bytes: Array("""
            rules:
              - rule: stalled
                description: test
                on: connection
                condition: rtos >= 3
                severity: critical
                message: stalled
            """.utf8))])
        var options = MetricsOptions()
        options.processSeries = 1
        options.cgroupSeries = 1
        var metrics = AgentMetrics(options: options, rules: rules, info: [("retransmit_hook", "tp_btf")])
        var state = State()
        // pid 20 and cgroup 200 are the most active (6 segments and drops
        // against 5), so they get the one series each.
        state.add([
            retransmit(pid: 10, cgroup: 100, segments: 3, cause: .rto),
            retransmit(pid: 10, cgroup: 100, segments: 2),
            retransmit(pid: 20, cgroup: 200, segments: 1),
            retransmit(pid: 20, cgroup: 200, segments: 4, error: -105),
            drop(pid: 20, cgroup: 200, reason: 3),
            drop(pid: 0, cgroup: 0, reason: 70_000),
        ])
        // Events at 1 ns, their lines written 2 ms later.
        state.counters.written(at: 2_000_001)
        metrics.count(rule: "stalled", severity: .critical, firing: true)
        metrics.count(rule: "stalled", severity: .critical, firing: true)
        metrics.count(rule: "stalled", severity: .critical, firing: false)
        XCTAssertEqual(render(&metrics, state), """
            # HELP ark_probe_retransmitted_segments_total TCP segments retransmitted (sent), by process (pid="other": every process without a series).
            # TYPE ark_probe_retransmitted_segments_total counter
            ark_probe_retransmitted_segments_total{pid="20",comm="app20"} 1
            ark_probe_retransmitted_segments_total{pid="other"} 5
            # HELP ark_probe_retransmit_timeouts_total TCP retransmissions caused by a retransmission timeout (RTO), by process (pid="other": every process without a series).
            # TYPE ark_probe_retransmit_timeouts_total counter
            ark_probe_retransmit_timeouts_total{pid="20",comm="app20"} 0
            ark_probe_retransmit_timeouts_total{pid="other"} 1
            # HELP ark_probe_failed_retransmit_segments_total TCP segments the kernel tried to retransmit but could not send, by process (pid="other": every process without a series).
            # TYPE ark_probe_failed_retransmit_segments_total counter
            ark_probe_failed_retransmit_segments_total{pid="20",comm="app20"} 4
            ark_probe_failed_retransmit_segments_total{pid="other"} 0
            # HELP ark_probe_kernel_drops_total TCP packets the kernel dropped, by process (pid="other": every process without a series).
            # TYPE ark_probe_kernel_drops_total counter
            ark_probe_kernel_drops_total{pid="20",comm="app20"} 1
            ark_probe_kernel_drops_total{pid="other"} 1
            # HELP ark_probe_blocked_seconds_total Time a process's connections waited on loss recovery without progress, counted as each spell ends, by process (pid="other": every process without a series).
            # TYPE ark_probe_blocked_seconds_total counter
            ark_probe_blocked_seconds_total{pid="20",comm="app20"} 0
            ark_probe_blocked_seconds_total{pid="other"} 0
            # HELP ark_probe_cgroup_retransmitted_segments_total TCP segments retransmitted (sent), by socket cgroup v2 id (0: none recorded).
            # TYPE ark_probe_cgroup_retransmitted_segments_total counter
            ark_probe_cgroup_retransmitted_segments_total{cgroup_id="200"} 1
            ark_probe_cgroup_retransmitted_segments_total{cgroup_id="other"} 5
            # HELP ark_probe_cgroup_retransmit_timeouts_total TCP retransmissions caused by a retransmission timeout (RTO), by socket cgroup v2 id (0: none recorded).
            # TYPE ark_probe_cgroup_retransmit_timeouts_total counter
            ark_probe_cgroup_retransmit_timeouts_total{cgroup_id="200"} 0
            ark_probe_cgroup_retransmit_timeouts_total{cgroup_id="other"} 1
            # HELP ark_probe_cgroup_failed_retransmit_segments_total TCP segments the kernel tried to retransmit but could not send, by socket cgroup v2 id (0: none recorded).
            # TYPE ark_probe_cgroup_failed_retransmit_segments_total counter
            ark_probe_cgroup_failed_retransmit_segments_total{cgroup_id="200"} 4
            ark_probe_cgroup_failed_retransmit_segments_total{cgroup_id="other"} 0
            # HELP ark_probe_cgroup_kernel_drops_total TCP packets the kernel dropped, by socket cgroup v2 id (0: none recorded).
            # TYPE ark_probe_cgroup_kernel_drops_total counter
            ark_probe_cgroup_kernel_drops_total{cgroup_id="200"} 1
            ark_probe_cgroup_kernel_drops_total{cgroup_id="other"} 1
            # HELP ark_probe_kernel_drops_by_reason_total TCP packets the kernel dropped, by enum skb_drop_reason (codes with subsystem bits: other); teardown reasons are counted in the kernel, without event lines.
            # TYPE ark_probe_kernel_drops_by_reason_total counter
            ark_probe_kernel_drops_by_reason_total{reason="NO_SOCKET"} 5
            ark_probe_kernel_drops_by_reason_total{reason="QUEUE_PURGE"} 5
            ark_probe_kernel_drops_by_reason_total{reason="other"} 1
            # HELP ark_probe_congestion_changes_counted_total Congestion-state changes counted in the kernel without event lines (all but leaving Loss and CWR's: the retransmits tell the rest).
            # TYPE ark_probe_congestion_changes_counted_total counter
            ark_probe_congestion_changes_counted_total 9
            # HELP ark_probe_waits_on_edges WaitsOn edges in the state graph now, by target.
            # TYPE ark_probe_waits_on_edges gauge
            ark_probe_waits_on_edges{target="network"} 2
            ark_probe_waits_on_edges{target="peer"} 2
            # HELP ark_probe_alerts_firing Alerts firing now, by rule.
            # TYPE ark_probe_alerts_firing gauge
            ark_probe_alerts_firing{rule="stalled",severity="critical"} 1
            # HELP ark_probe_info How the probe is attached (always 1).
            # TYPE ark_probe_info gauge
            ark_probe_info{retransmit_hook="tp_btf"} 1
            # HELP ark_probe_records_read_total Records read from the kernel ring buffer.
            # TYPE ark_probe_records_read_total counter
            ark_probe_records_read_total 7
            # HELP ark_probe_records_lost_total Records the kernel could not queue because the ring buffer was full.
            # TYPE ark_probe_records_lost_total counter
            ark_probe_records_lost_total 2
            # HELP ark_probe_events_written_total Event lines written.
            # TYPE ark_probe_events_written_total counter
            ark_probe_events_written_total 6
            # HELP ark_probe_alerts_written_total Alert lines (firing and resolved) written.
            # TYPE ark_probe_alerts_written_total counter
            ark_probe_alerts_written_total 1
            # HELP ark_probe_decode_errors_total Ring-buffer records that could not be decoded, by problem.
            # TYPE ark_probe_decode_errors_total counter
            ark_probe_decode_errors_total{problem="wrong_size"} 0
            ark_probe_decode_errors_total{problem="unknown_kind"} 1
            # HELP ark_probe_graph_evictions_total Entries the state graph evicted at its bounds, by kind.
            # TYPE ark_probe_graph_evictions_total counter
            ark_probe_graph_evictions_total{kind="process"} 0
            ark_probe_graph_evictions_total{kind="connection"} 3
            # HELP ark_probe_output_lag_seconds From an event's kernel timestamp to the write of the batch that carried its line.
            # TYPE ark_probe_output_lag_seconds histogram
            ark_probe_output_lag_seconds_bucket{le="0.001"} 0
            ark_probe_output_lag_seconds_bucket{le="0.005"} 6
            ark_probe_output_lag_seconds_bucket{le="0.01"} 6
            ark_probe_output_lag_seconds_bucket{le="0.025"} 6
            ark_probe_output_lag_seconds_bucket{le="0.05"} 6
            ark_probe_output_lag_seconds_bucket{le="0.1"} 6
            ark_probe_output_lag_seconds_bucket{le="0.25"} 6
            ark_probe_output_lag_seconds_bucket{le="0.5"} 6
            ark_probe_output_lag_seconds_bucket{le="1"} 6
            ark_probe_output_lag_seconds_bucket{le="2.5"} 6
            ark_probe_output_lag_seconds_bucket{le="5"} 6
            ark_probe_output_lag_seconds_bucket{le="+Inf"} 6
            ark_probe_output_lag_seconds_sum 0.012
            ark_probe_output_lag_seconds_count 6
            # HELP ark_probe_rule_evaluation_seconds Time of each tick's rule evaluation (graph subjects, pending and firing alerts).
            # TYPE ark_probe_rule_evaluation_seconds histogram
            ark_probe_rule_evaluation_seconds_bucket{le="1e-05"} 0
            ark_probe_rule_evaluation_seconds_bucket{le="+Inf"} 0
            ark_probe_rule_evaluation_seconds_sum 0
            ark_probe_rule_evaluation_seconds_count 0
            # HELP ark_probe_metrics_scrapes_total GET /metrics requests answered.
            # TYPE ark_probe_metrics_scrapes_total counter
            ark_probe_metrics_scrapes_total 1
            # HELP ark_probe_metrics_connections_closed_total Metrics connections closed by the server, by reason.
            # TYPE ark_probe_metrics_connections_closed_total counter
            ark_probe_metrics_connections_closed_total{reason="limit"} 0
            ark_probe_metrics_connections_closed_total{reason="timeout"} 0
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes 4096

            """)
    }

    /// A pid first seen while the set is full stays in "other"; a pid new
    /// since the last scrape is admitted when there is room; no counter
    /// ever goes backwards, and the series always sum to the total.
    func testSeriesAreStickyAndCountersNeverGoBackwards() {
        var options = MetricsOptions()
        options.processSeries = 2
        var metrics = AgentMetrics(options: options, rules: nil, info: [])
        var state = State()
        var previous: [String: UInt64] = [:]
        func scrape() -> [String: UInt64] {
            var values: [String: UInt64] = [:]
            for line in render(&metrics, state).split(separator: "\n")
            where line.hasPrefix("ark_probe_retransmitted_segments_total{") {
                let parts = line.split(separator: " ")
                values[String(parts[0])] = UInt64(parts[1])!
            }
            for (series, value) in previous {
                XCTAssertGreaterThanOrEqual(values[series] ?? .max, value, "\(series) went backwards")
            }
            XCTAssertEqual(values.values.reduce(0, +), state.counters.traffic.all.retransmittedSegments)
            previous = values
            return values
        }
        state.add([retransmit(pid: 1, cgroup: 1, segments: 1)])
        XCTAssertEqual(scrape().keys.sorted(), ["ark_probe_retransmitted_segments_total{pid=\"1\",comm=\"app1\"}",
                                               "ark_probe_retransmitted_segments_total{pid=\"other\"}"])
        // Two new pids, one slot: the busier one gets it.
        state.add([retransmit(pid: 2, cgroup: 1, segments: 1), retransmit(pid: 3, cgroup: 1, segments: 9)])
        var values = scrape()
        XCTAssertEqual(values["ark_probe_retransmitted_segments_total{pid=\"3\",comm=\"app3\"}"], 9)
        XCTAssertEqual(values["ark_probe_retransmitted_segments_total{pid=\"other\"}"], 1)
        // pid 2 becomes the busiest but stays in "other".
        state.add([retransmit(pid: 2, cgroup: 1, segments: 50), retransmit(pid: 4, cgroup: 1, segments: 5)])
        values = scrape()
        XCTAssertEqual(values["ark_probe_retransmitted_segments_total{pid=\"other\"}"], 56)
        XCTAssertEqual(values.count, 3)
    }
}
