// The contract with Ark: `ark run --probe ./ark-probe` starts the agent as a
// child and reads its stdout. This test does the same: a pipe, lines read as
// they come, SIGTERM at the end.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ArkContractTests: XCTestCase {
    let port = 5401

    /// The agent as Ark runs it: stdout a pipe, every line timestamped on
    /// arrival with CLOCK_MONOTONIC (the kernel's `ktime_ns` clock).
    final class ChildAgent: @unchecked Sendable {
        let process = Process()
        private let stdoutPipe = Pipe(), stderrPipe = Pipe()
        private let lock = NSLock()
        private var received: [(line: String, arrivalNanoseconds: UInt64)] = []
        private var ended = false

        /// `ark-probe run` with `arguments`, or any `command` (argv, absolute
        /// path first) that ends up running it.
        init(arguments: [String] = [], command: [String]? = nil, testCase: XCTestCase) throws {
            if let command {
                process.executableURL = URL(fileURLWithPath: command[0])
                process.arguments = Array(command.dropFirst())
            } else {
                process.executableURL = try NamespaceLab.productURL(named: "ark-probe")
                process.arguments = ["run"] + arguments
            }
            process.standardOutput = stdoutPipe
            process.standardError = stderrPipe
            try process.run()
            testCase.addTeardownBlock { [self] in
                if process.isRunning { process.terminate() }
                process.waitUntilExit()
            }
            let descriptor = stdoutPipe.fileHandleForReading.fileDescriptor
            Thread.detachNewThread { [self] in
                var pending = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count <= 0 { break }
                    let now = Self.monotonicNow()
                    pending += buffer[0..<count]
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        lock.withLock { received.append((line, now)) }
                    }
                }
                lock.withLock {
                    if !pending.isEmpty { received.append((String(decoding: pending, as: UTF8.self) + " (no newline)", 0)) }
                    ended = true
                }
            }
        }

        static func monotonicNow() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }

        var lines: [(line: String, arrivalNanoseconds: UInt64)] { lock.withLock { received } }
        var outputEnded: Bool { lock.withLock { ended } }

        func waitFor(_ what: String, timeout: TimeInterval, _ condition: ([(line: String, arrivalNanoseconds: UInt64)]) -> Bool) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if condition(lines) { return }
                if !process.isRunning && outputEnded {
                    let message = "ark-probe exited before \(what): " + stderrText()
                    if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" { throw LabError(message) }
                    throw XCTSkip(message)
                }
                usleep(5_000)
            }
            throw LabError("no \(what) within \(timeout) s; stderr: \(process.isRunning ? "(running)" : stderrText())")
        }

        func stderrText() -> String {
            String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }

        /// Connects from the lab's sender to `port`, where every packet is
        /// dropped, and waits until this agent has written a line for each
        /// SYN retransmit TCP_INFO counted. Returns the connector's pid, that
        /// count, and the text that marks the connector's retransmit lines.
        @discardableResult
        func awaitSYNRetransmits(in lab: NamespaceLab, port: Int, environment: [String] = [])
            throws -> (pid: Int, retransmitted: Int, marker: String) {
            let connector = try lab.spawn(inSender: true, ["connect-timeout", "--to", lab.receiverIPv4,
                                                           "--port", String(port), "--wait", "3.5"],
                                          environment: environment)
            let result = try connector.readJSON(timeout: 20)
            let pid = try XCTUnwrap(result.int("pid"))
            let retransmitted = try XCTUnwrap(result.int("total_retrans"))
            XCTAssertGreaterThan(retransmitted, 0)
            let marker = #""event_type":"transport.drop","entity_id":"network-pid-\#(pid)""#
            do {
                try waitFor("\(retransmitted) transport.drop lines", timeout: 5) {
                    $0.filter { $0.line.contains(marker) }.count == retransmitted
                }
            } catch let error as LabError {
                // What arrived instead: too few, too many, or another pid's.
                let drops = lines.map(\.line).filter { $0.contains(#""event_type":"transport.drop""#) }
                throw LabError("\(error.description); connector pid \(pid), TCP_INFO \(retransmitted); "
                               + "transport.drop lines: \(drops)")
            }
            return (pid, retransmitted, marker)
        }
    }

    /// The seed's keys with the seed's JSON types: `ts` and `pid` integers,
    /// `event_type`, `entity_id` and `value` strings.
    func assertCarriesTheSeedKeys(_ line: String, file: StaticString = #filePath, line number: UInt = #line) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            return XCTFail("not a JSON object: \(line)", file: file, line: number)
        }
        for key in ["event_type", "entity_id", "value"] {
            XCTAssertTrue(object[key] is String, "\(key) must be a string: \(line)", file: file, line: number)
        }
        for key in ["ts", "pid"] {
            // An integer literal in the text: JSONSerialization alone cannot
            // tell 3 from 3.0 or true.
            XCTAssertNotNil(line.range(of: "\"\(key)\":[0-9]+[,}]", options: .regularExpression),
                            "\(key) must be an integer: \(line)", file: file, line: number)
        }
        XCTAssertTrue(line.hasPrefix("{\"ts\":"), "ts comes first: \(line)", file: file, line: number)
    }

    /// Spawn, read as lines come, check every line, SIGTERM, clean exit with
    /// nothing lost. One connect to a dropped port: three SYN retransmits a
    /// second apart, so a block-buffered writer would hold each line back
    /// until the next ones fill its buffer (or until exit).
    func testLinesArriveAsTheyHappenAndSIGTERMLosesNothing() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropAll(port: port)
        let agent = try ChildAgent(arguments: ["--port", String(port)], testCase: self)
        try agent.waitFor("probe.started", timeout: 20) { $0.contains { $0.line.contains(#""event_type":"probe.started""#) } }

        let (_, retransmitted, marker) = try agent.awaitSYNRetransmits(in: lab, port: port)
        // Each line reached the reader while the agent had nothing else to
        // write: within milliseconds of its kernel timestamp.
        var delays: [Double] = []
        for entry in agent.lines where entry.line.contains(marker) {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(entry.line.utf8)) as? [String: Any])
            let kernelTime = try XCTUnwrap((object["ktime_ns"] as? NSNumber)?.uint64Value)
            delays.append(Double(entry.arrivalNanoseconds - kernelTime) / 1e6)
        }
        print("kernel → reader, per SYN retransmit line: \(delays.map { String(format: "%.2f ms", $0) })")
        for delay in delays {
            XCTAssertLessThan(delay, 250, "a line waited for a buffer to fill instead of being flushed")
        }

        agent.process.terminate()
        agent.process.waitUntilExit()
        try agent.waitFor("the end of the output", timeout: 5) { _ in agent.outputEnded }
        XCTAssertEqual(agent.process.terminationReason, .exit)
        XCTAssertEqual(agent.process.terminationStatus, 0)
        XCTAssertEqual(agent.stderrText().split(separator: "\n").filter { $0.contains("error") }, [])

        let lines = agent.lines.map(\.line)
        for line in lines { assertCarriesTheSeedKeys(line) }
        XCTAssertTrue(lines.first?.contains(#""event_type":"probe.started""#) ?? false, lines.first ?? "no lines")
        XCTAssertTrue(lines.last?.contains(#""event_type":"probe.stopped""#) ?? false, lines.last ?? "no lines")
        XCTAssertTrue(lines.last?.contains(#""value":"signal 15""#) ?? false, lines.last ?? "no lines")
        // Nothing lost: the segments reported for the connector are the
        // kernel's own count.
        let segments = lines.filter { $0.contains(marker) }.compactMap { line -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Int(object["value"] as? String ?? "")
        }.reduce(0, +)
        XCTAssertEqual(segments, retransmitted)
        XCTAssertFalse(lines.contains { $0.contains(#""event_type":"probe.loss""#) })
    }
}
