import Foundation
import RuleLanguage
@testable import RuleTesting
import XCTest

/// A rule on every retransmission with cause rto (an event subject: it
/// fires at the event's time), and one on a process's wait on the network.
let sampleRules = """
rules:
  - rule: rto-seen
    description: an RTO retransmission
    on: transport.drop
    condition: cause == "rto"
    severity: info
    labels: {team: net}
    message: task {pid} timed out
  - rule: stalled
    description: two RTOs in the window
    on: waits_on_network
    condition: rtos >= 2
    value: rtos
    for: 500ms
    keep_firing_for: 1s
    severity: critical
    message: task {pid} is stalled ({rtos} RTOs)
"""

let sampleLoader = TestFileLoader(defaultRuleFiles: [("rules/sample.yaml", Array(sampleRules.utf8))])

/// Loads a test file from text, with the sample rules as the default rules.
func loadTestFile(_ text: String, path: String = "t.yaml", file: StaticString = #filePath,
                  line: UInt = #line) throws -> LoadedTestFile {
    do {
        return try sampleLoader.load(try parseYAML(Array(text.utf8), file: path), path: path)
    } catch let error as RuleFileErrors {
        XCTFail("unexpected errors:\n\(error)", file: file, line: line)
        throw error
    }
}

/// The errors loading `text` gives, as "line:column: message".
func loadErrors(_ text: String, path: String = "t.yaml") -> [String] {
    do {
        _ = try sampleLoader.load(try parseYAML(Array(text.utf8), file: path), path: path)
        return []
    } catch let error as RuleFileErrors {
        return error.errors.map { "\($0.line):\($0.column): \($0.message)" }
    } catch let error as RuleFileError {
        return ["\(error.line):\(error.column): \(error.message)"]
    } catch {
        return ["\(error)"]
    }
}

/// A fresh directory for files a test writes, removed at the end of the test.
func temporaryDirectory(for testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ruletesting-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}
