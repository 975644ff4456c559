// Runs the real `ark-probe run` on the host (where it sees every network
// namespace) and reads back the JSONL it wrote.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One JSONL line of the agent, parsed.
struct AgentLine {
    let raw: String
    let object: [String: Any]

    var eventType: String { object["event_type"] as? String ?? "" }
    var pid: Int { (object["pid"] as? NSNumber)?.intValue ?? -1 }
    /// `value` is a string in the Ark contract; as a number where it is one.
    var valueNumber: Int { Int(object["value"] as? String ?? "") ?? 0 }
    func string(_ key: String) -> String? { object[key] as? String }
    /// probe.started's report of one feature: its state, hook and reason.
    func feature(_ name: String) -> [String: String]? {
        (object["features"] as? [String: Any])?[name] as? [String: String]
    }
    func int(_ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }
}

final class AgentProcess: @unchecked Sendable {
    let outputPath: String
    let process: Process
    private let stderrPipe = Pipe()

    /// Starts the agent writing to a file and waits until its probe is
    /// attached (the `probe.started` line). A probe that cannot load is a
    /// skip on a user's machine and a failure in CI.
    init(arguments: [String] = [], testCase: XCTestCase) throws {
        outputPath = NSTemporaryDirectory() + "ark-probe-e2e-\(getpid())-\(UUID().uuidString).jsonl"
        process = Process()
        process.executableURL = try NamespaceLab.productURL(named: "ark-probe")
        process.arguments = ["run", "--output", outputPath] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderrPipe
        try process.run()
        testCase.addTeardownBlock { [self] in
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            unlink(outputPath)
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if lines().contains(where: { $0.eventType == "probe.started" }) { return }
            if !process.isRunning {
                let message = "ark-probe could not start: " + stderrText()
                if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" {
                    throw LabError(message + " (ARK_PROBE_REQUIRE_KERNEL_TESTS=1: a failure, not a skip)")
                }
                throw XCTSkip(message)
            }
            usleep(20_000)
        }
        throw LabError("ark-probe did not write probe.started within 20 s: \(stderrText())")
    }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func stderrText() -> String {
        if process.isRunning { return "(still running)" }
        return String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Every complete line written so far; fails on a line that is not JSON.
    func lines() -> [AgentLine] {
        guard let data = FileManager.default.contents(atPath: outputPath) else { return [] }
        var result: [AgentLine] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                XCTFail("not a JSON object: \(line)")
                continue
            }
            result.append(AgentLine(raw: String(line), object: object))
        }
        return result
    }

    /// Retransmitted segments (sent) per pid.
    func retransmittedSegments(in lines: [AgentLine]) -> [Int: Int] {
        var totals: [Int: Int] = [:]
        for line in lines where line.eventType == "transport.drop" {
            totals[line.pid, default: 0] += line.valueNumber
        }
        return totals
    }
}

/// The inode of a named network namespace: the `netns` field of the lines.
func namespaceInode(_ name: String) throws -> Int {
    var status = stat()
    guard stat("/run/netns/\(name)", &status) == 0 else { throw LabError("no /run/netns/\(name)") }
    return Int(status.st_ino)
}
