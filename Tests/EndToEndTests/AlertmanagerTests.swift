// `--alertmanager` against a real Alertmanager (Debian's
// prometheus-alertmanager) on a free loopback port: the recorded stall
// trace of rules/tests replayed through the agent's pipeline, its alerts read
// back with `GET /api/v2/alerts`; a peer that is down, or comes up late.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One Alertmanager with its own config and storage in a temporary
/// directory, no gossip; killed and removed at teardown even on failure.
final class AlertmanagerProcess: @unchecked Sendable {
    let port: Int
    let directory: String
    private var process: Process?
    private let log: String

    var url: String { "http://127.0.0.1:\(port)" }

    /// The binary, or a skip (a failure under ARK_PROBE_REQUIRE_KERNEL_TESTS=1).
    static func binary() throws -> String {
        if let path = NamespaceLab.findTool("prometheus-alertmanager") { return path }
        let message = "prometheus-alertmanager is not installed (scripts/setup installs it)"
        if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" {
            throw LabError(message + " (ARK_PROBE_REQUIRE_KERNEL_TESTS=1: a failure, not a skip)")
        }
        throw XCTSkip(message)
    }

    /// Prepares (does not start) an Alertmanager on a free port.
    init(testCase: XCTestCase) throws {
        _ = try Self.binary()
        port = try freeLoopbackPort()
        directory = NSTemporaryDirectory() + "ark-probe-alertmanager-\(getpid())-\(port)"
        log = directory + "/alertmanager.log"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        // A route to a receiver that notifies nobody: the alerts API is
        // what the tests read.
        try """
            route:
              receiver: blackhole
            receivers:
              - name: blackhole

            """.write(toFile: directory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        testCase.addTeardownBlock { [self] in
            stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Starts it and waits until /-/ready answers.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["--config.file=\(directory)/alertmanager.yml", "--storage.path=\(directory)/data",
                             "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address="]
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw LabError("cannot create \(log)") }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? get("/-/ready")) != nil { return }
            guard process.isRunning else { throw LabError("alertmanager exited: \(logText())") }
            usleep(100_000)
        }
        throw LabError("alertmanager not ready within 30 s: \(logText())")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// The body of GET `path`; throws unless 200.
    func get(_ path: String) throws -> String {
        let result = try NamespaceLab.run(["/usr/bin/curl", "-sS", "--max-time", "5", "--fail", url + path], check: false)
        guard result.status == 0 else { throw LabError("GET \(path): \(result.stderr)") }
        return result.stdout
    }

    /// The alerts it holds (active and not yet timed out or resolved).
    func alerts() throws -> [[String: Any]] {
        let body = try get("/api/v2/alerts")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]], body)
    }

    /// alertmanager_alerts_received_total{status=...} (API v1 and v2):
    /// how many alerts in that state it was sent.
    func received(status: String) throws -> Int {
        try get("/metrics").split(separator: "\n").filter {
            $0.hasPrefix("alertmanager_alerts_received_total{") && $0.contains(#"status="\#(status)""#)
        }.reduce(0) { $0 + Int(Double($1.split(separator: " ").last ?? "0") ?? 0) }
    }
}

/// A loopback port nobody listens on (bound and released).
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard ok else { throw LabError("cannot bind a loopback port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

final class AlertmanagerEndToEndTests: XCTestCase {
    func binary() throws -> String { try NamespaceLab.productURL(named: "ark-probe").path }

    /// rules/tests/traces/stalled-training.jsonl: workers 15559, 15563 and
    /// 15567 stalled on 10.199.75.2 from 0.66 s to 4.72 s, recorded on host
    /// "vm"; their alerts fire at 1.3 s and resolve by 7.7 s.
    func stallTrace() throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("rules/tests/traces/stalled-training.jsonl").path
        guard FileManager.default.fileExists(atPath: source) else { throw LabError("no trace at \(source)") }
        return source
    }

    /// The stall trace up to 3 s, when every alert of it is firing.
    func firingTrace() throws -> String {
        let text = try String(contentsOfFile: try stallTrace(), encoding: .utf8)
        let lines = text.split(separator: "\n").filter { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["ts"] as? Int ?? .max) <= 1_796_369_072_715
        }
        let path = NSTemporaryDirectory() + "ark-probe-firing-\(getpid()).jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { unlink(path) }
        return path
    }

    func replay(_ arguments: [String]) throws -> CommandResult {
        try NamespaceLab.run([try binary(), "replay", "--no-events", "--no-graph"] + arguments, check: false)
    }

    func alertLines(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event_type"] as? String == "alert" }
    }

    func rfc3339(_ milliseconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// The workload-stalled alert of `pid` (workload-degraded has the same entity).
    func stalled(_ pid: Int, in alerts: [[String: Any]]) -> [String: Any]? {
        alerts.first {
            let labels = $0["labels"] as? [String: String]
            return labels?["entity"] == "network-pid-\(pid)" && labels?["alertname"] == "workload-stalled"
        }
    }

    func testTheReplayedStallFiresInAlertmanagerWithItsLabelsThenResolves() throws {
        let alertmanager = try AlertmanagerProcess(testCase: self)
        try alertmanager.start()
        let firing = try replay(["--alertmanager", alertmanager.url, try firingTrace()])
        XCTAssertEqual(firing.status, 0, firing.stderr)
        XCTAssertTrue(firing.stderr.contains("ark-probe: alertmanager \(alertmanager.url): "), firing.stderr)
        XCTAssertFalse(firing.stderr.contains("NOT delivered"), firing.stderr)
        let lines = alertLines(firing.stdout)
        let line = try XCTUnwrap(lines.first { $0["entity_id"] as? String == "network-pid-15559" && $0["rule"] as? String == "workload-stalled" })
        XCTAssertEqual(line["state"] as? String, "firing")

        let held = try alertmanager.alerts()
        let alert = try XCTUnwrap(stalled(15559, in: held), "\(held)")
        XCTAssertEqual(alert["labels"] as? [String: String], [
            "alertname": "workload-stalled", "severity": "critical", "host": "vm", "entity": "network-pid-15559",
            "pid": "15559", "comm": "ark-lab-traffic", "peer": "10.199.75.2", "category": "network",
        ])
        let annotations = try XCTUnwrap(alert["annotations"] as? [String: String])
        XCTAssertEqual(annotations["summary"], line["message"] as? String)
        let evidence = try XCTUnwrap(line["evidence"] as? [String: Any])
        // The evidence as name=value, as in the alert line.
        XCTAssertEqual(annotations["description"], evidence.keys.sorted().map { "\($0)=\(evidence[$0]!)" }.joined(separator: ", "))
        XCTAssertTrue(annotations["description"]?.contains(", peer=10.199.75.2, ") ?? false, "\(annotations)")
        XCTAssertEqual(alert["startsAt"] as? String, rfc3339(line["onset"] as? Int ?? 0))
        XCTAssertEqual((alert["status"] as? [String: Any])?["state"] as? String, "active")
        XCTAssertNotNil(stalled(15563, in: held), "the second trainer too")
        // Every alert still firing at the end of the trace, and nothing else.
        var lastState: [String: String] = [:]
        for line in lines { lastState["\(line["rule"] ?? "")/\(line["entity_id"] ?? "")"] = line["state"] as? String }
        XCTAssertEqual(Set(held.compactMap { alert in (alert["labels"] as? [String: String]).map { "\($0["alertname"] ?? "")/\($0["entity"] ?? "")" } }),
                       Set(lastState.filter { $0.value == "firing" }.keys))
        XCTAssertEqual(try alertmanager.received(status: "resolved"), 0)

        // The same trace with time running on: the alerts resolve, and
        // Alertmanager's v2 API no longer lists them.
        let resolved = try replay(["--drain", "30", "--alertmanager", alertmanager.url, try stallTrace()])
        XCTAssertEqual(resolved.status, 0, resolved.stderr)
        let resolutions = alertLines(resolved.stdout).filter { $0["state"] as? String == "resolved" }
        XCTAssertTrue(resolutions.contains { $0["entity_id"] as? String == "network-pid-15559" })
        let after = try alertmanager.alerts()
        XCTAssertEqual(after.count, 0, "\(after)")
        XCTAssertEqual(try alertmanager.received(status: "resolved"), Set(resolutions.map { "\($0["rule"] ?? "")/\($0["entity_id"] ?? "")" }).count)
    }

    func testAPeerThatIsDownDoesNotStopDeliveryToTheOther() throws {
        let alertmanager = try AlertmanagerProcess(testCase: self)
        try alertmanager.start()
        let down = "http://127.0.0.1:\(try freeLoopbackPort())"
        let result = try replay(["--alertmanager", down, "--alertmanager", alertmanager.url, try firingTrace()])
        XCTAssertEqual(result.status, 1, "some alerts were not delivered: \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("ark-probe: alertmanager \(down): cannot deliver (connect: Connection refused);"), result.stderr)
        XCTAssertTrue(result.stderr.contains("ark-probe: alertmanager \(down): 0 alert(s) sent in 0 post(s),"), result.stderr)
        XCTAssertTrue(result.stderr.contains("NOT delivered"), result.stderr)
        XCTAssertFalse(result.stderr.contains("ark-probe: alertmanager \(alertmanager.url): cannot deliver"), result.stderr)
        XCTAssertNotNil(stalled(15559, in: try alertmanager.alerts()))
    }

    func testAlertmanagerDownAtFirstThenUp() throws {
        let alertmanager = try AlertmanagerProcess(testCase: self)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = ["replay", "--no-events", "--no-graph", "--alertmanager", alertmanager.url, try firingTrace()]
        let stderr = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        addTeardownBlock { if process.isRunning { process.terminate() } }
        usleep(1_000_000)
        XCTAssertTrue(process.isRunning, "the replay waits for Alertmanager")
        try alertmanager.start()
        process.waitUntilExit()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("cannot deliver (connect: Connection refused)"), text)
        XCTAssertTrue(text.contains("delivering again after"), text)
        XCTAssertNotNil(stalled(15559, in: try alertmanager.alerts()))
    }

    /// The live agent on a stall in the namespace lab, its Alertmanager
    /// down when the alert fires: the alert arrives once Alertmanager is up,
    /// is re-sent while firing, and goes when the stall is over; SIGTERM
    /// still stops the agent (the sender threads take no signals).
    func testTheLiveAgentDeliversOnceAlertmanagerIsUpThenResolves() throws {
        let alertmanager = try AlertmanagerProcess(testCase: self)
        let lab = try NamespaceLab.make(for: self)
        let port = 5411, chunk = 256 * 1024
        _ = try lab.startSink(port: port, extraArguments: ["--ack-every", String(chunk)])
        let agent = try AgentProcess(arguments: ["--port", String(port), "--no-graph", "--alertmanager", alertmanager.url,
                                                 "--alertmanager-resend", "1"], testCase: self)
        let trainer = try lab.spawn(inSender: true, ["train", "--to", lab.receiverIPv4, "--port", String(port),
                                                     "--chunk", String(chunk), "--seconds", "90"])
        let pid = try XCTUnwrap(trainer.readJSON(timeout: 10).int("pid"))
        let entity = "network-pid-\(pid)"
        func agentAlerts(_ state: String) -> [AgentLine] {
            agent.lines().filter {
                $0.eventType == "alert" && $0.string("rule") == "workload-stalled" && $0.string("entity_id") == entity
                    && $0.string("state") == state
            }
        }
        func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try condition() { return }
                usleep(200_000)
            }
            throw LabError("\(what) within \(seconds) s; agent: \(agent.lines().filter { $0.eventType == "alert" }.map(\.raw))")
        }
        usleep(2_000_000)
        try lab.dropRandom(port: port, probability: 0.3, dataOnly: false)
        try waitFor("the stall paged", seconds: 20) { !agentAlerts("firing").isEmpty }

        try alertmanager.start()
        try waitFor("the alert reached Alertmanager", seconds: 40) { stalled(pid, in: try alertmanager.alerts()) != nil }
        var name = utsname()
        uname(&name)
        let host = withUnsafeBytes(of: name.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let alert = try XCTUnwrap(stalled(pid, in: try alertmanager.alerts()))
        XCTAssertEqual(alert["labels"] as? [String: String], [
            "alertname": "workload-stalled", "severity": "critical", "host": host, "entity": entity,
            "pid": String(pid), "comm": "ark-lab-traffic", "peer": lab.receiverIPv4, "category": "network",
        ])

        try lab.clearDrops()
        try waitFor("the alert resolved", seconds: 40) { !agentAlerts("resolved").isEmpty }
        try waitFor("Alertmanager saw the resolution", seconds: 10) { stalled(pid, in: try alertmanager.alerts()) == nil }
        XCTAssertGreaterThanOrEqual(try alertmanager.received(status: "firing"), 2, "firing alerts are re-sent every second")
        XCTAssertGreaterThanOrEqual(try alertmanager.received(status: "resolved"), 1)
        XCTAssertEqual(agent.stop(), 0)
        let stderr = agent.stderrText()
        print(stderr.split(separator: "\n").filter { $0.contains("alertmanager") }.joined(separator: "\n"))
        XCTAssertTrue(stderr.contains("ark-probe: alertmanager \(alertmanager.url): cannot deliver (connect: Connection refused);"), stderr)
        XCTAssertTrue(stderr.contains("ark-probe: alertmanager \(alertmanager.url): delivering again after"), stderr)
        XCTAssertFalse(stderr.contains("NOT delivered"), stderr)
    }
}
