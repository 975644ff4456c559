// Per-feature loading against the real kernel: every optional feature can
// be switched off and the agent still runs and says what is off, and
// `ark-probe features` reports the same as probe.started.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ProbeFeatureTests: XCTestCase {
    static let optionalFeatures = [
        "synack-retransmits", "owners-on-state-change", "owners-on-send", "owners-on-receive",
        "existing-sockets", "congestion-states", "drops", "process-exits", "launcher-environment",
    ]

    /// probe.started's "features" object: name -> {state, hook, reason}.
    func features(_ line: AgentLine?) throws -> [String: [String: String]] {
        let object = try XCTUnwrap(line?.object["features"] as? [String: Any], line?.raw ?? "no probe.started")
        return object.compactMapValues { $0 as? [String: String] }
    }

    func testEveryOptionalFeatureCanBeSwitchedOffAndTheAgentSaysSo() throws {
        for feature in Self.optionalFeatures {
            let agent = try AgentProcess(arguments: ["--disable", feature], testCase: self)
            XCTAssertEqual(agent.stop(), 0, "\(feature): \(agent.stderrText())")
            let started = agent.lines().first { $0.eventType == "probe.started" }
            let reported = try features(started)
            XCTAssertEqual(Set(reported.keys), Set(Self.optionalFeatures + ["retransmits"]))
            XCTAssertEqual(reported[feature]?["state"], "off", feature)
            XCTAssertEqual(reported[feature]?["reason"], "switched off (--disable \(feature))")
            XCTAssertNotEqual(reported["retransmits"]?["state"], "off")
            XCTAssertTrue(agent.stderrText().contains("\(feature) off: switched off"), agent.stderrText())
        }
    }

    func testFeaturesCommandMatchesTheStartLine() throws {
        let agent = try AgentProcess(arguments: [], testCase: self)
        XCTAssertEqual(agent.stop(), 0)
        let reported = try features(agent.lines().first { $0.eventType == "probe.started" })
        let result = try NamespaceLab.run([NamespaceLab.productURL(named: "ark-probe").path, "features"])
        XCTAssertEqual(result.status, 0, result.stderr)
        for (name, status) in reported {
            let row = result.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            let columns = try XCTUnwrap(row, "\(name) missing from:\n\(result.stdout)").split(separator: " ")
            XCTAssertEqual(String(columns[1]), status["state"], String(row ?? ""))
            XCTAssertEqual(String(columns[2]), status["hook"] ?? "-", String(row ?? ""))
        }
        print(result.stdout)
    }

    /// A socket closed before reading its peer's FIN gives a QUEUE_PURGE drop
    /// (kernels whose drop reasons have it): by default counted in the
    /// kernel (probe.stopped, metrics), no line; with --teardown-drop-lines,
    /// a line each.
    func testTeardownDropsAreCountedInTheKernelUnlessLinesAreAskedFor() throws {
        let kernelHasQueuePurge = try Data(contentsOf: URL(fileURLWithPath: "/sys/kernel/btf/vmlinux"))
            .range(of: Data("SKB_DROP_REASON_QUEUE_PURGE".utf8)) != nil
        for writesLines in [true, false] {
            let agent = try AgentProcess(arguments: writesLines ? ["--teardown-drop-lines"] : [], testCase: self)
            let started = agent.lines().first { $0.eventType == "probe.started" }
            let reportsTeardown = try features(started)["drops"]?["state"] != "off" && kernelHasQueuePurge
            let port = try closeConnectionsUnread(count: 20)
            XCTAssertEqual(agent.stop(), 0, agent.stderrText())
            let lines = agent.lines()
            let teardownLines = lines.filter {
                $0.eventType == "transport.kernel_drop" && $0.string("reason") == "QUEUE_PURGE"
                    && ($0.int("sport") == Int(port) || $0.int("dport") == Int(port))
            }
            let counted = try XCTUnwrap(lines.first { $0.eventType == "probe.stopped" }?.int("counted_only_drops"))
            if writesLines {
                XCTAssertEqual(counted, 0)
                XCTAssertGreaterThanOrEqual(teardownLines.count, reportsTeardown ? 20 : 0)
            } else {
                // Counted machine-wide: other teardowns may add to ours.
                XCTAssertGreaterThanOrEqual(counted, reportsTeardown ? 20 : 0)
                XCTAssertEqual(teardownLines.count, 0)
            }
            if !reportsTeardown { XCTAssertEqual(teardownLines.count, 0) }
        }
    }

    /// Connections on loopback whose accepting side reads the client's
    /// data but closes before reading its FIN; returns the listening port.
    private func closeConnectionsUnread(count: Int) throws -> UInt16 {
        func address(_ port: UInt16) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            return address
        }
        func call(_ result: Int32, _ what: String) throws {
            if result < 0 { throw LabError("\(what): errno \(errno)") }
        }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try call(listener, "socket")
        defer { close(listener) }
        var bound = address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &bound) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try call(bind(listener, $0, length), "bind")
                try call(getsockname(listener, $0, &length), "getsockname")
            }
        }
        try call(Glibc.listen(listener, 64), "listen")
        let port = UInt16(bigEndian: bound.sin_port)
        for _ in 0..<count {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try call(client, "socket")
            var target = address(port)
            try withUnsafePointer(to: &target) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try call(connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)), "connect")
                }
            }
            try call(Int32(send(client, "hello", 5, 0)), "send")
            close(client)
            let accepted = accept(listener, nil, nil)
            try call(accepted, "accept")
            usleep(2_000)  // the data and the client's FIN are queued
            var buffer = [UInt8](repeating: 0, count: 5)
            try call(Int32(recv(accepted, &buffer, 5, 0)), "recv")
            close(accepted)  // the FIN, never read, is purged
        }
        return port
    }

    func testBadFeatureNamesAreUsageErrors() throws {
        let binary = try NamespaceLab.productURL(named: "ark-probe").path
        for (arguments, message) in [
            (["run", "--disable", "drop"], "--disable takes optional features (synack-retransmits, "),
            (["run", "--disable", "retransmits"], "--disable retransmits: the retransmit hook is what the agent is for"),
            (["features", "--disable", ""], "--disable takes optional features"),
            (["features", "--pid", "1"], "unknown option"),
        ] {
            let result = try NamespaceLab.run([binary] + arguments, check: false)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
