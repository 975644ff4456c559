// `ark-probe replay` needs no root: traces in, the same lines out.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ReplayCLITests: XCTestCase {
    func binary() throws -> String { try NamespaceLab.productURL(named: "ark-probe").path }

    /// A stalled process: RTO retransmits every 300 ms for 3 s, then silence.
    func stallTrace() -> String {
        var lines = [#"{"ts":1710000000000,"event_type":"probe.started","entity_id":"probe-lab","pid":1,"value":"tp_btf","host":"lab","kernel":"6.18","attribution":"socket-owner","reports_failed_retransmits":true,"hooks":"","clock_offset_ns":1709999990000000000}"#]
        for step in 0..<10 {
            let ktime = 10_000_000_000 + step * 300_000_000
            let ts = (1_709_999_990_000_000_000 + ktime) / 1_000_000
            lines.append(#"{"ts":\#(ts),"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1","tid":1024,"comm":"torchrun","uid":0,"cgroup_id":7,"attribution":"socket","family":"ipv4","saddr":"10.0.0.1","sport":40000,"daddr":"10.0.0.2","dport":29500,"tcp_state":"ESTABLISHED","cause":"rto","ca_state":"loss","backoff":0,"socket_cookie":11,"socket_cgroup_id":7,"netns":4026531840,"ktime_ns":\#(ktime)}"#)
        }
        lines.append(#"{"ts":1710000020000,"event_type":"probe.stopped","entity_id":"probe-lab","pid":1,"value":"signal 15","ktime_ns":30000000000}"#)
        return lines.joined(separator: "\n") + "\n"
    }

    func write(_ text: String, name: String) throws -> String {
        let path = NSTemporaryDirectory() + "ark-probe-\(name)-\(getpid()).jsonl"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { unlink(path) }
        return path
    }

    func testReplayIsDeterministicAndPagesAndResolvesTheStall() throws {
        let trace = try write(stallTrace(), name: "stall")
        let first = try NamespaceLab.run([try binary(), "replay", trace])
        let second = try NamespaceLab.run([try binary(), "replay", trace])
        XCTAssertEqual(first.stdout, second.stdout, "same input, same output, byte for byte")
        let lines = first.stdout.split(separator: "\n").map(String.init)
        let alerts = lines.filter { $0.contains(#""event_type":"alert""#) && $0.contains(#""rule":"workload-stalled""#) }
        XCTAssertEqual(alerts.count, 2, first.stdout)
        // RTOs from 10.0 s every 300 ms (no RTO in the trace: blocked from
        // the first one on): 600 ms of the last second on the 10.6 s tick.
        XCTAssertTrue(alerts.first?.hasPrefix(#"{"ts":1710000000600,"event_type":"alert","entity_id":"network-pid-1024","pid":1024,"value":"0.6","state":"firing""#) ?? false, alerts.first ?? "")
        XCTAssertTrue(alerts.first?.contains(#""onset":1710000000600"#) ?? false)
        XCTAssertTrue(alerts.last?.contains(#""state":"resolved""#) ?? false)
        XCTAssertEqual(lines.filter { $0.contains(#""event_type":"transport.drop""#) }.count, 10, "raw events pass through")
        XCTAssertTrue(lines.last?.contains(#""event_type":"probe.stopped""#) ?? false)
        XCTAssertTrue(first.stderr.contains("ark-probe replay: 10 events"), first.stderr)

        let derived = try NamespaceLab.run([try binary(), "replay", "--no-events", "--no-graph", trace])
        XCTAssertFalse(derived.stdout.contains("transport.drop"))
        XCTAssertFalse(derived.stdout.contains("graph.edge"))
        XCTAssertEqual(derived.stdout.split(separator: "\n").filter { $0.contains(#""event_type":"alert""#) }.count, 6,
                       "workload-stalled, workload-degraded and connection-stalled, each firing and resolved")
    }

    /// A long replay shows its progress on a terminal (events, rate, share
    /// of the bytes, time left) and says nothing of it to a pipe.
    func testProgressOnATerminalOnly() throws {
        let script = try XCTUnwrap(NamespaceLab.findTool("script"), "script(1) (Debian package bsdutils)")
        var lines = [#"{"ts":1710000000000,"event_type":"probe.started","entity_id":"probe-lab","pid":1,"value":"tp_btf","clock_offset_ns":1709999990000000000}"#]
        // Enough lines that the replay runs past a second (the debug build).
        for step in 0..<120_000 {
            let ktime = 10_000_000_000 + step * 1_000_000
            lines.append(#"{"ts":\#((1_709_999_990_000_000_000 + ktime) / 1_000_000),"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1","cause":"fast","saddr":"10.0.0.1","sport":40000,"daddr":"10.0.0.2","dport":29500,"family":"ipv4","socket_cookie":11,"ktime_ns":\#(ktime)}"#)
        }
        let trace = try write(lines.joined(separator: "\n") + "\n", name: "long")
        let command = [try binary(), "replay", "--no-events", "--no-graph", "--no-rules", trace]
        let piped = try NamespaceLab.run(command)
        XCTAssertFalse(piped.stderr.contains("events/s"), piped.stderr)
        XCTAssertFalse(piped.stderr.contains("\u{1B}"), piped.stderr)
        XCTAssertTrue(piped.stderr.contains("ark-probe replay: 120000 events"), piped.stderr)
        // script(1) gives the command a terminal and copies what it shows.
        let terminal = try NamespaceLab.run([script, "-q", "-e", "-c", command.joined(separator: " "), "/dev/null"])
        XCTAssertTrue(terminal.stdout.contains("\r\u{1B}[Kark-probe replay: "), terminal.stdout)
        XCTAssertTrue(terminal.stdout.contains(" events/s, "), terminal.stdout)
        XCTAssertTrue(terminal.stdout.contains(" % of "), terminal.stdout)
        XCTAssertTrue(terminal.stdout.contains(" left"), terminal.stdout)
    }

    func testABadLineStopsTheReplayWithItsLocationUnlessSkipped() throws {
        var text = stallTrace()
        text = text.replacingOccurrences(of: #""pid":1024,"value":"1","tid":1024"#, with: #""pid":"1024","value":"1","tid":1024"#, options: [], range: text.range(of: #""pid":1024,"value":"1","tid":1024"#))
        text += "not json\n"
        let trace = try write(text, name: "bad")
        let stopped = try NamespaceLab.run([try binary(), "replay", trace], check: false)
        XCTAssertEqual(stopped.status, 1)
        XCTAssertTrue(stopped.stderr.contains("\(trace):2:"), stopped.stderr)
        XCTAssertTrue(stopped.stderr.contains(#""pid" must be a number, got a string"#), stopped.stderr)

        let skipped = try NamespaceLab.run([try binary(), "replay", "--skip-bad", trace], check: false)
        XCTAssertEqual(skipped.status, 0)
        XCTAssertTrue(skipped.stderr.contains("9 events, 2 bad lines skipped"), skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("\(trace):13:1: "), skipped.stderr)
    }

    func testUnknownEventTypesPassThroughUntouched() throws {
        let unknown = #"{"ts":1710000000000,"event_type":"rdma.pause_storm","entity_id":"nic-0","pid":0,"value":"7","extra":[1,2,{"a":null}]}"#
        let trace = try write(unknown + "\n", name: "unknown")
        let result = try NamespaceLab.run([try binary(), "replay", "--no-rules", trace])
        XCTAssertEqual(result.stdout, unknown + "\n")
    }

    func testTheGraphOfATrace() throws {
        let trace = try write(stallTrace().split(separator: "\n").dropLast().joined(separator: "\n") + "\n", name: "graph")
        let dot = try NamespaceLab.run([try binary(), "graph", trace])
        XCTAssertTrue(dot.stdout.contains(#""process-pid-1024" -> "network-pid-1024""#), dot.stdout)
        XCTAssertTrue(dot.stdout.contains(#""process-pid-1024" -> "peer-10.0.0.2""#), dot.stdout)
        let json = try NamespaceLab.run([try binary(), "graph", "--format", "json", trace])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let processes = object?["processes"] as? [[String: Any]]
        XCTAssertEqual(processes?.first?["pid"] as? Int, 1024)
        XCTAssertEqual((processes?.first?["waits_on"] as? [[String: Any]])?.first?["rtos"] as? Int, 10)
    }
}
