// `ark-probe run --metrics`: the scrape against the agent's own JSONL,
// checked by promtool, and scraped once by a real Prometheus.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class MetricsEndpointTests: XCTestCase {
    let port = 5201
    let promtool = "/usr/bin/promtool"
    let prometheus = "/usr/bin/prometheus"

    func testScrapeMatchesTheJSONLAndPassesPromtoolAndPrometheus() throws {
        try requireTools([promtool, prometheus])
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let metricsPort = try freeLoopbackPort()
        let agent = try AgentProcess(arguments: ["--port", String(port), "--metrics", "127.0.0.1:\(metricsPort)"],
                                     testCase: self)
        // Hostile clients take every connection the server has, sending half
        // a request and never more, while the traffic runs: the agent must
        // go on reporting every retransmit and serve scrapes once they are
        // timed out.
        let hostile = try (0..<8).map { _ in try connectLoopback(port: metricsPort) }
        defer { hostile.forEach { close($0) } }
        for client in hostile { _ = send(client, "GET /metr", 9, Int32(MSG_NOSIGNAL)) }
        let senders = try (0..<2).map { _ in
            try lab.spawn(inSender: true, ["send", "--to", lab.receiverIPv4, "--port", String(port),
                                           "--bytes", String(4 * 1024 * 1024)])
        }
        let senderPids = try senders.map { sender -> Int in
            let result = try sender.readJSON(timeout: 90)
            sender.waitForExit(timeout: 10)
            return try XCTUnwrap(result.int("pid"))
        }

        // The agent writes its lines before it answers a scrape in the same
        // loop turn; a scrape between two equal reads of the lines saw
        // exactly those lines.
        var scrape = ""
        var lines: [AgentLine] = []
        for _ in 0..<50 {
            let before = agent.lines()
            // Refused (closed at accept) while the hostile clients hold on.
            guard let response = try? httpGet(port: metricsPort, path: "/metrics") else {
                usleep(200_000)
                continue
            }
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.head.contains("Content-Type: text/plain; version=0.0.4"), response.head)
            let after = agent.lines()
            if before.count == after.count {
                scrape = response.body
                lines = after
                break
            }
            usleep(100_000)
        }
        XCTAssertFalse(scrape.isEmpty, "the lines never held still around a scrape")
        let samples = parseSamples(scrape)

        var table = "     pid  JSONL segments  /metrics segments  JSONL RTOs  /metrics RTOs\n"
        for pid in senderPids {
            let retransmits = lines.filter { $0.eventType == "transport.drop" && $0.pid == pid }
            let segments = retransmits.reduce(0) { $0 + $1.valueNumber }
            let timeouts = retransmits.filter { $0.string("cause") == "rto" }.count
            let series = "{pid=\"\(pid)\",comm=\"ark-lab-traffic\"}"
            table += String(format: "%8d  %14d  %17.0f  %10d  %13.0f\n", pid, segments,
                            samples["ark_probe_retransmitted_segments_total" + series] ?? -1, timeouts,
                            samples["ark_probe_retransmit_timeouts_total" + series] ?? -1)
            XCTAssertGreaterThan(segments, 0, "the lab dropped nothing for pid \(pid): the comparison proves nothing")
            XCTAssertEqual(samples["ark_probe_retransmitted_segments_total{pid=\"\(pid)\",comm=\"ark-lab-traffic\"}"],
                           Double(segments), "pid \(pid)")
            XCTAssertEqual(samples["ark_probe_retransmit_timeouts_total{pid=\"\(pid)\",comm=\"ark-lab-traffic\"}"],
                           Double(timeouts), "pid \(pid)")
        }
        print(table)
        let allSegments = lines.filter { $0.eventType == "transport.drop" }.reduce(0) { $0 + $1.valueNumber }
        XCTAssertEqual(sum(samples, of: "ark_probe_retransmitted_segments_total"), Double(allSegments))
        XCTAssertEqual(sum(samples, of: "ark_probe_cgroup_retransmitted_segments_total"), Double(allSegments))
        let netfilterDrops = lines.filter {
            $0.eventType == "transport.kernel_drop" && $0.string("reason") == "NETFILTER_DROP"
        }.count
        XCTAssertGreaterThan(netfilterDrops, 0)
        XCTAssertEqual(samples["ark_probe_kernel_drops_by_reason_total{reason=\"NETFILTER_DROP\"}"], Double(netfilterDrops))
        let allDrops = lines.filter { $0.eventType == "transport.kernel_drop" }.count
        XCTAssertEqual(sum(samples, of: "ark_probe_kernel_drops_total"), Double(allDrops))
        let eventLines = lines.filter { $0.eventType.hasPrefix("transport.") }.count
        XCTAssertEqual(samples["ark_probe_events_written_total"], Double(eventLines))
        XCTAssertEqual(samples["ark_probe_records_lost_total"], 0)
        XCTAssertEqual(samples["ark_probe_output_lag_seconds_count"].map { $0 > 0 }, true)
        XCTAssertEqual(samples["ark_probe_info{retransmit_hook=\"tp_btf\",attribution=\"socket-owner\","
                               + "reports_failed_retransmits=\"true\",kernel=\"\(kernelRelease())\"}"], 1)
        XCTAssertNotNil(samples["ark_probe_alerts_firing{rule=\"workload-stalled\",severity=\"critical\"}"])
        XCTAssertGreaterThan(samples["process_resident_memory_bytes"] ?? 0, 0)
        XCTAssertEqual(samples["ark_probe_metrics_connections_closed_total{reason=\"timeout\"}"], 8,
                       "the hostile clients were timed out")

        let check = try runWithInput([promtool, "check", "metrics"], input: scrape)
        XCTAssertEqual(check.status, 0, "promtool: \(check.stdout)\(check.stderr)")
        XCTAssertEqual(check.stdout + check.stderr, "", "promtool lint complaints")

        XCTAssertEqual(try httpGet(port: metricsPort, path: "/").status, 404)

        let scraped = try scrapeWithPrometheus(metricsPort: metricsPort, pid: senderPids[0])
        print("Prometheus stored \(scraped.map(String.init(describing:)) ?? "nothing") for pid \(senderPids[0])")
        XCTAssertEqual(scraped, samples["ark_probe_retransmitted_segments_total{pid=\"\(senderPids[0])\",comm=\"ark-lab-traffic\"}"],
                       "what Prometheus stored is what the scrape said")
        XCTAssertEqual(agent.stop(), 0)
    }

    /// The command's own families (the Alertmanager push's counters) come
    /// after the agent's, and pass promtool too.
    func testAlertmanagerCountersAreExported() throws {
        try requireTools([promtool])
        let metricsPort = try freeLoopbackPort()
        let downPort = try freeLoopbackPort()
        let agent = try AgentProcess(arguments: ["--metrics", "127.0.0.1:\(metricsPort)",
                                                 "--alertmanager", "http://127.0.0.1:\(downPort)"], testCase: self)
        let scrape = try httpGet(port: metricsPort, path: "/metrics").body
        let samples = parseSamples(scrape)
        let url = "{url=\"http://127.0.0.1:\(downPort)\"}"
        for name in ["alerts_sent_total", "posts_sent_total", "failed_attempts_total", "rejected_posts_total",
                     "dropped_notifications_total", "pending_alerts"] {
            XCTAssertEqual(samples["ark_probe_alertmanager_" + name + url], 0, name + " (no alert was raised)")
        }
        let check = try runWithInput([promtool, "check", "metrics"], input: scrape)
        XCTAssertEqual(check.status, 0, "promtool: \(check.stdout)\(check.stderr)")
        XCTAssertEqual(check.stdout + check.stderr, "", "promtool lint complaints")
        XCTAssertEqual(agent.stop(), 0)
    }

    func testBadOrBusyAddressFailsBeforeTheProbeLoads() throws {
        let binary = try NamespaceLab.productURL(named: "ark-probe").path
        let table: [([String], String)] = [
            (["--metrics", "localhost"], "--metrics: metrics address 'localhost': no port"),
            (["--metrics", "127.0.0.1:http"], "the port must be a number from 1 to 65535, not 'http'"),
            (["--metrics", "::1:9464"], "an IPv6 address needs brackets"),
            (["--metrics"], "--metrics needs a value"),
            (["--metrics-series", "-1"], "--metrics-series takes a whole number from 0 to 10000, not '-1'"),
        ]
        for (arguments, message) in table {
            let result = try NamespaceLab.run([binary, "run"] + arguments, check: false)
            XCTAssertEqual(result.status, 64, "\(arguments): a usage error")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let help = try NamespaceLab.run([binary, "run", "--help"])
        XCTAssertTrue(help.stdout.contains("--metrics ADDR"), help.stdout)
        XCTAssertTrue(help.stdout.contains("--metrics-series N"), help.stdout)

        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        let busyPort = try bindLoopback(listener)
        XCTAssertEqual(Glibc.listen(listener, 1), 0)
        let busy = try NamespaceLab.run([binary, "run", "--metrics", "127.0.0.1:\(busyPort)"], check: false)
        XCTAssertEqual(busy.status, 1)
        XCTAssertTrue(busy.stderr.contains("cannot serve metrics on 127.0.0.1:\(busyPort): bind failed: Address already in use"),
                      busy.stderr)
        XCTAssertFalse(busy.stderr.contains("retransmits via"), "the probe must not load: \(busy.stderr)")
    }

    // MARK: Prometheus

    /// Runs Prometheus with a scrape job on the agent until it has scraped
    /// it (`up == 1`); returns the value it stored for `pid`'s segments.
    func scrapeWithPrometheus(metricsPort: Int, pid: Int) throws -> Double? {
        let directory = NSTemporaryDirectory() + "ark-probe-prometheus-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        addTeardownBlock {
            if process.isRunning { process.terminate() }
            if process.processIdentifier != 0 { process.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: directory)
        }
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: ark-probe
                static_configs:
                  - targets: ["127.0.0.1:\(metricsPort)"]
            """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let webPort = try freeLoopbackPort()
        _ = FileManager.default.createFile(atPath: directory + "/log", contents: nil)
        process.executableURL = URL(fileURLWithPath: prometheus)
        process.arguments = ["--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
                             "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=warn"]
        process.standardOutput = FileHandle(forWritingAtPath: directory + "/log")
        process.standardError = FileHandle(forWritingAtPath: directory + "/log")
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var up: Double?
        var segments: Double?
        while Date() < deadline && (up != 1 || segments == nil) {
            guard process.isRunning else { break }
            usleep(500_000)
            up = try? query("up{job=\"ark-probe\"}", port: webPort)
            segments = try? query("ark_probe_retransmitted_segments_total{job=\"ark-probe\",pid=\"\(pid)\"}", port: webPort)
        }
        let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
        XCTAssertEqual(up, 1, "Prometheus did not scrape the agent within 60 s; its log:\n\(log)")
        return segments
    }

    /// The value of an instant query's only sample; nil when there is none.
    func query(_ expression: String, port: Int) throws -> Double? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "_-.")
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: allowed)!
        let response = try httpGet(port: port, path: "/api/v1/query?query=\(encoded)")
        guard response.status == 200,
              let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
              let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let value = result.first?["value"] as? [Any], value.count == 2, let text = value[1] as? String else {
            return nil
        }
        return Double(text)
    }

    // MARK: Helpers

    func requireTools(_ paths: [String]) throws {
        let missing = paths.filter { access($0, X_OK) != 0 }
        guard !missing.isEmpty else { return }
        let message = "missing \(missing.joined(separator: ", ")) (Debian package prometheus; scripts/setup installs it)"
        if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" {
            throw LabError(message + " (ARK_PROBE_REQUIRE_KERNEL_TESTS=1: a failure, not a skip)")
        }
        throw XCTSkip(message)
    }

    /// Samples by series ("name{labels}") from exposition text.
    func parseSamples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            samples[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return samples
    }

    func sum(_ samples: [String: Double], of name: String) -> Double {
        samples.filter { $0.key.hasPrefix(name + "{") }.values.reduce(0, +)
    }

    func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    func bindLoopback(_ descriptor: Int32) throws -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw LabError("cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A port nothing listens on now (the kernel's choice, released again).
    func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        return try bindLoopback(descriptor)
    }

    /// Runs a command with `input` on its stdin.
    func runWithInput(_ argv: [String], input: String) throws -> CommandResult {
        let path = NSTemporaryDirectory() + "ark-probe-scrape-\(getpid())-\(UUID().uuidString).txt"
        try input.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        return try NamespaceLab.run(["/bin/sh", "-c", "exec \"$0\" \"$@\" < '\(path)'"] + argv, check: false)
    }
}

// Plain-socket HTTP for the tests that scrape the agent.

struct HTTPResponse {
    let status: Int
    let head: String
    let body: String
}

/// A socket connected to 127.0.0.1:`port`, with a 5 s receive timeout.
func connectLoopback(port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    guard connected else {
        close(descriptor)
        throw LabError("cannot connect to 127.0.0.1:\(port): errno \(errno)")
    }
    return descriptor
}

/// GET over a plain socket (no URLSession: FoundationNetworking is not
/// linked into the tests), reading until the server closes.
func httpGet(port: Int, path: String) throws -> HTTPResponse {
    let descriptor = try connectLoopback(port: port)
    defer { close(descriptor) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
        throw LabError("cannot send to 127.0.0.1:\(port): errno \(errno)")
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count == 0 { break }
        guard count > 0 else { throw LabError("reading from 127.0.0.1:\(port): errno \(errno)") }
        received += chunk[0..<count]
    }
    let text = String(decoding: received, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"),
          let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
        throw LabError("not an HTTP response: \(text.prefix(200))")
    }
    return HTTPResponse(status: status, head: String(text[..<split.lowerBound]),
                        body: String(text[split.upperBound...]))
}
