// deploy/ark-probe.service: systemd accepts it, its sandbox scores well,
// and the agent works with exactly the capabilities it grants.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class DeployTests: XCTestCase {
    let port = 5402

    var unitURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/ark-probe.service")
    }

    func unitText() throws -> String { try String(contentsOf: unitURL, encoding: .utf8) }

    /// The values of `key=` in the unit, split on spaces.
    func unitValues(_ key: String) throws -> [String] {
        try unitText().split(separator: "\n").filter { $0.hasPrefix(key + "=") }
            .flatMap { $0.dropFirst(key.count + 1).split(separator: " ").map(String.init) }
    }

    func requireTool(_ name: String, package: String) throws -> String {
        if let path = NamespaceLab.findTool(name) { return path }
        let message = "`\(name)` not found (Debian package \(package); scripts/setup installs it)"
        if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" { throw LabError(message) }
        throw XCTSkip(message)
    }

    /// The unit as shipped, with ExecStart pointing at this build (verify
    /// checks that the binary exists).
    func unitForThisBuild() throws -> String {
        let directory = NSTemporaryDirectory() + "ark-probe-unit-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/ark-probe.service"
        let binary = try NamespaceLab.productURL(named: "ark-probe").path
        let text = try unitText().replacingOccurrences(of: "ExecStart=/usr/local/bin/ark-probe", with: "ExecStart=" + binary)
        XCTAssertNotEqual(text, try unitText(), "ExecStart moved: update this test")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSystemdVerifiesTheUnit() throws {
        let analyze = try requireTool("systemd-analyze", package: "systemd")
        let result = try NamespaceLab.run([analyze, "verify", try unitForThisBuild()], check: false)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "systemd-analyze verify has complaints")
    }

    /// `systemd-analyze security` scores exposure from 0 (locked down) to
    /// 10; the unit keeps only what the agent needs (BPF, its sockets).
    func testTheSandboxExposureStaysLow() throws {
        let analyze = try requireTool("systemd-analyze", package: "systemd")
        let result = try NamespaceLab.run([analyze, "security", "--offline=yes", "--no-pager",
                                           try unitForThisBuild()], check: false)
        let overall = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") },
                                    result.stdout + result.stderr)
        let score = try XCTUnwrap(overall.split(separator: " ").compactMap { Double($0) }.first, String(overall))
        print(overall)
        XCTAssertLessThanOrEqual(score, 2.0, String(overall))
    }

    func testTheUnitGrantsExactlyCAP_BPFAndCAP_PERFMON() throws {
        XCTAssertEqual(try unitValues("AmbientCapabilities"), ["CAP_BPF", "CAP_PERFMON"])
        XCTAssertEqual(try unitValues("CapabilityBoundingSet"), ["CAP_BPF", "CAP_PERFMON"])
        XCTAssertEqual(try unitValues("NoNewPrivileges"), ["yes"])
        XCTAssertEqual(try unitValues("DynamicUser"), ["yes"])
    }

    /// The unit's privileges, applied by setpriv as systemd would: an
    /// unprivileged user, no_new_privs, the unit's capabilities as the only
    /// ambient and bounding set. The agent loads, and reports the three SYN
    /// retransmits of a connect to a dropped port, attributed exactly, with
    /// the connecting process's rank and job: root's process, whose
    /// /proc/PID/environ `nobody` may not read, so the kernel's copy.
    func testTheAgentWorksWithOnlyTheUnitsPrivileges() throws {
        let setpriv = try requireTool("setpriv", package: "util-linux")
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropAll(port: port)
        let names = try unitValues("AmbientCapabilities").map { $0.lowercased().replacingOccurrences(of: "cap_", with: "") }
        let capabilities = names.map { "+" + $0 }.joined(separator: ",")
        // A copy nobody can execute, wherever the build directory is.
        let copy = "/tmp/ark-probe-deploy-\(getpid())"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: try NamespaceLab.productURL(named: "ark-probe").path, toPath: copy)
        chmod(copy, 0o755)
        addTeardownBlock { unlink(copy) }
        let agent = try ArkContractTests.ChildAgent(
            command: [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--no-new-privs",
                      "--inh-caps=-all,\(capabilities)", "--ambient-caps=-all,\(capabilities)",
                      "--bounding-set=-all,\(capabilities)", copy, "run", "--port", String(port)],
            testCase: self)
        try agent.waitFor("probe.started", timeout: 20) { $0.contains { $0.line.contains(#""event_type":"probe.started""#) } }

        let connector = try agent.awaitSYNRetransmits(in: lab, port: port,
                                                      environment: ["RANK=7", "TORCHELASTIC_RUN_ID=deploy"])
        let own = agent.lines.map(\.line).filter { $0.contains(connector.marker) }
        XCTAssertFalse(own.isEmpty)
        for line in own {
            XCTAssertTrue(line.contains(#""job":"run:deploy","rank":7"#), line)
        }
        agent.process.terminate()
        agent.process.waitUntilExit()
        XCTAssertEqual(agent.process.terminationStatus, 0)
        let started = try XCTUnwrap(agent.lines.first?.line)
        XCTAssertTrue(started.contains(#""value":"tp_btf""#), started)
        XCTAssertTrue(started.contains(#""attribution":"socket-owner""#), started)
    }
}
