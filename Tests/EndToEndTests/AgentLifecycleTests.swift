// How the agent starts, stops and fails: what a user or Ark sees.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class AgentLifecycleTests: XCTestCase {
    func binary() throws -> URL { try NamespaceLab.productURL(named: "ark-probe") }

    /// Ark reads the agent's stdout; when Ark goes away the agent must end
    /// on its own, quietly, even with nothing to write.
    func testAClosedReaderEndsTheAgentQuietly() throws {
        try requireRoot()
        let process = Process()
        process.executableURL = try binary()
        process.arguments = ["run"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        addTeardownBlock { if process.isRunning { process.terminate() } }

        let reader = output.fileHandleForReading
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            first.append(chunk)
        }
        XCTAssertTrue(String(decoding: first, as: UTF8.self).contains(#""event_type":"probe.started""#),
                      String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        try reader.close()
        try output.fileHandleForWriting.close()

        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "the agent outlived its reader")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(stderr.contains("error") || stderr.contains("failed"), stderr)
    }

    /// Records the ring buffer could not hold are reported, never silently
    /// lost: a tiny ring, and an agent paused while traffic retransmits.
    func testRingBufferOverflowIsReportedAsLoss() throws {
        let lab = try NamespaceLab.make(for: self)
        let port = 5301
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let agent = try AgentProcess(arguments: ["--port", String(port), "--ring-buffer-kb", "4"], testCase: self)
        kill(agent.process.processIdentifier, SIGSTOP)
        let senders = try (0..<3).map { _ in
            try lab.spawn(inSender: true, ["send", "--to", lab.receiverIPv4, "--port", String(port),
                                           "--bytes", String(8 << 20)])
        }
        var retransmitted = 0
        for sender in senders { retransmitted += try sender.readJSON(timeout: 90).int("total_retrans") ?? 0 }
        kill(agent.process.processIdentifier, SIGCONT)
        usleep(200_000)
        XCTAssertEqual(agent.stop(), 0)

        let lines = agent.lines()
        let losses = lines.filter { $0.eventType == "probe.loss" }
        let lost = losses.reduce(0) { $0 + $1.valueNumber }
        let reported = agent.retransmittedSegments(in: lines).values.reduce(0, +)
        print("ring of 4 KiB, agent paused: \(retransmitted) segments retransmitted, \(reported) reported, \(lost) records lost")
        XCTAssertGreaterThan(lost, 0, "a 4 KiB ring holds 30 records; the senders made more")
        XCTAssertEqual(losses.last?.int("lost_total"), lost)
        XCTAssertLessThan(reported, retransmitted)
        XCTAssertTrue(agent.stderrText().contains("\(lost) records lost"), agent.stderrText())
    }

    func testAnUnprivilegedUserIsToldWhichCapabilitiesAreMissing() throws {
        try requireRoot()
        guard let setpriv = NamespaceLab.findTool("setpriv") else { throw XCTSkip("setpriv (util-linux) not found") }
        let result = try NamespaceLab.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                           "--inh-caps=-all", try binary().path, "run", "--duration", "1"], check: false)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "", "stdout carries only JSONL")
        XCTAssertTrue(result.stderr.contains("needs CAP_BPF and CAP_PERFMON"), result.stderr)
        XCTAssertTrue(result.stderr.contains("setcap cap_bpf,cap_perfmon+ep"), result.stderr)
    }

    /// README's claim: root is not needed; CAP_BPF and CAP_PERFMON are.
    func testCAP_BPFAndCAP_PERFMONAloneLoadTheWholeProbe() throws {
        try requireRoot()
        guard let setpriv = NamespaceLab.findTool("setpriv") else { throw XCTSkip("setpriv (util-linux) not found") }
        // A copy nobody can execute, wherever the build directory is.
        let copy = "/tmp/ark-probe-capabilities-\(getpid())"
        defer { unlink(copy) }
        try FileManager.default.copyItem(atPath: try binary().path, toPath: copy)
        chmod(copy, 0o755)
        let result = try NamespaceLab.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                           "--inh-caps=-all,+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon",
                                           copy, "run", "--duration", "1"], check: false)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains(#""event_type":"probe.started""#), result.stdout)
        XCTAssertTrue(result.stdout.contains(#""value":"tp_btf""#), result.stdout)
        XCTAssertTrue(result.stdout.contains(#""attribution":"socket-owner""#), result.stdout)
        XCTAssertTrue(result.stdout.contains(#""existing-sockets":{"state":"on","hook":"iter/task_file"}"#), result.stdout)
        XCTAssertFalse(result.stderr.contains("existing-sockets off"), result.stderr)
    }

    func testUsageErrorsSayWhatToDoInstead() throws {
        let table: [([String], String)] = [
            (["run", "--bogus"], "unknown option '--bogus'; see 'ark-probe run --help'"),
            (["run", "--duration", "soon"], "--duration takes a positive number of seconds, not 'soon'"),
            (["run", "--duration", "-1"], "--duration takes a positive number of seconds, not '-1'"),
            (["run", "--pid", "0"], "--pid takes a whole number from 1 to 4294967295, not '0'"),
            (["run", "--port", "70000"], "--port takes a whole number from 1 to 65535, not '70000'"),
            (["run", "--attach", "fentry"], "--attach takes tp_btf, tracepoint or kprobe (comma-separated), not 'fentry'"),
            (["run", "--ring-buffer-kb", "100"], "--ring-buffer-kb must be a power of two"),
            (["run", "--line-delay", "0"], "--line-delay takes a whole number from 1 to 100, not '0'"),
            (["record", "--line-delay", "2s"], "--line-delay takes a whole number from 1 to 100, not '2s'"),
            (["run", "--line-delay", "1000"], "--line-delay takes a whole number from 1 to 100, not '1000'"),
            (["run", "--cgroup", "/nonexistent"], "--cgroup takes a cgroup id or the path of a cgroup v2 directory; '/nonexistent' is neither"),
            (["run", "--output"], "--output needs a value"),
            (["run", "stray"], "unexpected argument 'stray'"),
            (["frobnicate"], "unknown subcommand 'frobnicate'; see 'ark-probe --help'"),
        ]
        for (arguments, message) in table {
            let result = try NamespaceLab.run([try binary().path] + arguments, check: false)
            XCTAssertEqual(result.status, 64, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stdout, "", "\(arguments)")
        }
    }

    /// An invalid rule stops the agent before it loads anything, and every
    /// error is located.
    func testAnInvalidRuleFileStopsTheAgentBeforeItStarts() throws {
        let path = NSTemporaryDirectory() + "ark-probe-bad-rules-\(getpid()).yaml"
        defer { unlink(path) }
        try """
            rules:
              - rule: Bad_Name
                description: d
                on: waits_on_netwrk
                condition: rtos >= 2
                severity: high
                message: m
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try NamespaceLab.run([try binary().path, "run", "--rules", path, "--duration", "1"], check: false)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "", "nothing was started, nothing written")
        XCTAssertTrue(result.stderr.contains("3 errors in the rules; nothing was started"), result.stderr)
        XCTAssertTrue(result.stderr.contains("\(path):2:11: invalid rule name 'Bad_Name'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("\(path):4:9: unknown subject 'waits_on_netwrk' for 'on' (did you mean 'waits_on_network'?)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("\(path):6:15: 'severity' must be critical, warning or info, not 'high'"), result.stderr)

        let missing = try NamespaceLab.run([try binary().path, "run", "--rules", "/nonexistent/rules"], check: false)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("cannot read rules from /nonexistent/rules: No such file or directory"), missing.stderr)
    }

    func testHelpIsWrittenForTheUser() throws {
        let result = try NamespaceLab.run([try binary().path, "run", "--help"])
        for option in ["--output", "--duration", "--pid", "--cgroup", "--port", "--quiet", "--attach",
                       "--ring-buffer-kb", "--line-delay", "--no-drops", "--no-congestion", "--teardown-drop-lines"] {
            XCTAssertTrue(result.stdout.contains(option), option)
        }
    }

    private func requireRoot() throws {
        guard geteuid() != 0 else { return }
        if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" {
            throw LabError("not root, and ARK_PROBE_REQUIRE_KERNEL_TESTS=1")
        }
        throw XCTSkip("needs root")
    }
}
