// Blocked time against a blackhole of known length: a trainer's data is
// dropped for exactly 2 s, then not at all. Its network edge must report
// a spell of at least those 2 s and, within 150 ms, the time the trainer
// itself lost: the longest gap between its steps, from its last step before
// the drops to its first after the path returned (the kernel's RTO backoff
// decides when its retransmission gets through: real time the trainer
// lost). Measured on the trainer, not on the clock around the iptables
// commands, which take seconds in an emulated guest.

import Foundation
import XCTest

final class BlockedTimeLabTests: XCTestCase {
    let port = 5421
    let chunk = 64 * 1024

    func testABlackholeOfTwoSecondsIsTwoSecondsBlockedPlusTheBackoffWait() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port, extraArguments: ["--ack-every", String(chunk)])
        // Blocked time is read from the metric, the sum of the spells: the
        // graph lines' blocked_s covers a 5 s window, and a guest's slow
        // iptables can make the stall longer than that.
        let metricsPort = try freeLoopbackPort()
        let agent = try AgentProcess(arguments: ["--port", String(port), "--metrics", "127.0.0.1:\(metricsPort)"],
                                     testCase: self)
        let trainer = try lab.spawn(inSender: true, ["train", "--to", lab.receiverIPv4, "--port", String(port),
                                                     "--chunk", String(chunk), "--seconds", "30",
                                                     "--report-every", "10"])
        let pid = try XCTUnwrap(trainer.readJSON(timeout: 30).int("pid"))
        usleep(1_500_000)
        let onset = Int(Date().timeIntervalSince1970 * 1000)
        try lab.dropRandom(port: port, probability: 1, dataOnly: true)
        usleep(2_000_000)
        try lab.clearDrops()
        let cleared = Int(Date().timeIntervalSince1970 * 1000)

        // The update that ends the spell: blocked_for_s back to 0.
        func ended() -> AgentLine? {
            agent.lines().first {
                $0.eventType == "graph.edge_updated" && $0.pid == pid && $0.string("to") == "network-pid-\(pid)"
                    && ($0.int("ts") ?? 0) > cleared && ($0.object["blocked_for_s"] as? NSNumber)?.doubleValue == 0
            }
        }
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && ended() == nil { usleep(100_000) }
        let line = try XCTUnwrap(ended(), "no edge update ended the spell")
        let metrics = try httpGet(port: metricsPort, path: "/metrics").body
        XCTAssertEqual(agent.stop(), 0)
        let sample = try XCTUnwrap(metrics.split(separator: "\n").first {
            $0.hasPrefix("ark_probe_blocked_seconds_total{pid=\"\(pid)\"")
        }, metrics)
        let blocked = try XCTUnwrap(Double(sample.split(separator: " ").last ?? ""), String(sample))
        // The trainer's own progress: the longest gap between its steps.
        var steps: [Int] = []
        while let text = trainer.readLine(timeout: 0) {
            guard let report = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let at = (report["at_ms"] as? NSNumber)?.intValue else { continue }
            steps.append(at)
        }
        let gaps = zip(steps, steps.dropFirst()).map { (from: $0, to: $1) }
        let stall = try XCTUnwrap(gaps.max { $0.to - $0.from < $1.to - $1.from }, "the trainer reported no steps")
        let expected = Double(stall.to - stall.from) / 1000
        print("blackhole 2.000 s: blocked \(blocked) s; the trainer made no step for \(expected) s, "
              + "from \(Double(stall.from - onset) / 1000) s after the onset")
        let timeline = agent.lines().filter {
            $0.pid == pid && ($0.eventType == "transport.drop" || $0.eventType == "transport.congestion")
        }.map {
            "+\(($0.int("ts") ?? 0) - onset) ms \($0.eventType) \($0.string("cause") ?? $0.string("value") ?? "")"
                + " backoff \($0.int("backoff") ?? -1) rto_us \($0.int("rto_us") ?? -1) packets_out \($0.int("packets_out") ?? -1)"
        }
        let context = line.raw + "\n" + timeline.joined(separator: "\n")
        XCTAssertGreaterThanOrEqual(blocked, 1.95, context)
        XCTAssertEqual(blocked, expected, accuracy: 0.15, context)
    }
}
