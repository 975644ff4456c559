// Per-feature loading against the real kernel: every optional feature can
// be switched off and the agent still runs and says what is off, and
// `ark-probe features` reports the same as probe.started.

import Foundation
import XCTest

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
