import FuzzHarness
import XCTest

/// Replays the fuzz corpora (Tests/FuzzCorpus/<target>/) and every input a
/// fuzzer ever crashed on (Tests/FuzzCorpus/crashes/<target>-*) through the
/// same harnesses as the libFuzzer executables: no input may crash, hang or
/// break a promise of its parser (errors located inside the input, no line
/// dropped silently, …). See Tests/Fuzz/README.md.
final class FuzzRegressionTests: XCTestCase {
    static let corpusRoot: String = {
        // .../Tests/FuzzRegressionTests/FuzzRegressionTests.swift → .../Tests/FuzzCorpus
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(2)
        return components.joined(separator: "/") + "/FuzzCorpus"
    }()

    func replay(_ target: FuzzTarget, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = Self.corpusRoot + "/" + target.rawValue
        let files = try XCTUnwrap(inputFiles(at: directory), "no corpus at \(directory)", file: file, line: line)
        XCTAssertGreaterThan(files.count, 10, "the \(target.rawValue) corpus is missing", file: file, line: line)
        var accepted = 0
        for path in files {
            let bytes = try XCTUnwrap(readFile(path), path, file: file, line: line)
            let outcome = target.run(bytes)
            if outcome.accepted { accepted += 1 }
            XCTAssertEqual(outcome.violations, [], "\(path): \(outcome)", file: file, line: line)
        }
        // The corpus reaches past the first error: some inputs load.
        XCTAssertGreaterThan(accepted, 0, "no input of the \(target.rawValue) corpus is accepted", file: file, line: line)
    }

    func testRuleLoaderCorpus() throws { try replay(.ruleLoader) }
    func testExpressionCorpus() throws { try replay(.expression) }
    func testTraceReaderCorpus() throws { try replay(.traceReader) }

    /// Found by fuzz-expression: an escaped line break (`\n`) in a
    /// double-quoted condition was matched to the line break after the
    /// scalar, so the next error was reported on the following line (6:2,
    /// inside `severity:`). It belongs on `bogus`, line 5, column 33.
    func testEscapedNewlineKeepsTheErrorInsideTheScalar() throws {
        let path = Self.corpusRoot + "/crashes/rule-loader-escaped-newline-error-located-past-scalar.yaml"
        let outcome = FuzzTarget.ruleLoader.run(try XCTUnwrap(readFile(path), path))
        XCTAssertEqual(outcome.errors.map(\.description), ["fuzz.yaml:5:33: unknown field 'bogus'"])
    }

    /// Each crash input names its target (`rule-loader-…`, `expression-…`,
    /// `trace-reader-…`). It must now be rejected with errors that each name
    /// the file, a line and (rule files) a column inside it and say what is
    /// wrong; an input whose name ends in `-valid` must load instead.
    func testCrashInputsFailWithLocatedErrors() throws {
        let directory = Self.corpusRoot + "/crashes"
        let files = try XCTUnwrap(inputFiles(at: directory), "no crash directory at \(directory)")
        for path in files {
            let name = String(path.split(separator: "/").last!)
            guard let target = FuzzTarget.allCases.first(where: { name.hasPrefix($0.rawValue + "-") }) else {
                if name != "README.md" { XCTFail("\(path): the name does not start with a target name") }
                continue
            }
            let bytes = try XCTUnwrap(readFile(path), path)
            let outcome = target.run(bytes)
            XCTAssertEqual(outcome.violations, [], "\(path): \(outcome)")
            if name.hasSuffix("-valid") || name.contains("-valid.") {
                XCTAssertTrue(outcome.accepted, "\(path): \(outcome)")
                continue
            }
            XCTAssertFalse(outcome.accepted, "\(path) should be rejected: \(outcome)")
            XCTAssertFalse(outcome.errors.isEmpty, "\(path): no error reported: \(outcome)")
            for error in outcome.errors {
                XCTAssertGreaterThanOrEqual(error.line, 1, "\(path): \(error)")
                if target != .traceReader { XCTAssertNotNil(error.column, "\(path): \(error)") }
                if let column = error.column { XCTAssertGreaterThanOrEqual(column, 1, "\(path): \(error)") }
                XCTAssertFalse(error.message.isEmpty, "\(path): \(error)")
            }
        }
    }
}
