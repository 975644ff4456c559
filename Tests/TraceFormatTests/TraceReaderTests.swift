import ProbeEvents
import XCTest
@testable import TraceFormat

final class TraceReaderTests: XCTestCase {
    let start = #"{"ts":1710000000000,"event_type":"probe.started","entity_id":"probe-n","pid":7,"value":"tp_btf","host":"n","clock_offset_ns":0}"#
    let graph = #"{"ts":1710000000000,"event_type":"graph.edge_added","entity_id":"network-pid-1","pid":1,"value":"waits_on"}"#
    let seed = #"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"}"#

    func event(_ ktime: Int, pid: String = "1") -> String {
        #"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":\#(pid),"value":"1","ktime_ns":\#(ktime)}"#
    }

    /// Good and bad lines mixed; `bad` are the numbers of the bad ones.
    func mixedTrace() -> (bytes: [UInt8], good: [Int], bad: [Int]) {
        let lines: [[UInt8]] = [
            Array(start.utf8) + [0x0A],                                           // 1
            Array(event(5_000).utf8) + [0x0A],                                    // 2
            [0x0A],                                                               // 3 blank
            Array("not json\n".utf8),                                             // 4
            Array("[1]\r\n".utf8),                                                // 5 not an object
            Array(event(5_500, pid: "\"1\"").utf8) + [0x0A],                      // 6 pid is a string
            Array(graph.utf8) + [0x0D, 0x0A],                                     // 7 passthrough, CRLF
            Array(event(4_000).utf8) + [0x0A],                                    // 8 backwards
            Array(event(6_000).utf8) + [0x0D, 0x0A],                              // 9 CRLF
            Array(#"{"ts":1,"event_type":"x"#.utf8) + [0xFF] + Array("\"}\n".utf8),  // 10 bad UTF-8
            Array(repeating: UInt8(ascii: " "), count: 70_000) + Array("{}\n".utf8), // 11 too long
            Array(seed.utf8) + [0x0A],                                            // 12
            Array(#"{"ts":1,"event_type""#.utf8),                                 // 13 truncated, no newline
        ]
        return (lines.flatMap { $0 }, [1, 2, 7, 9, 12], [3, 4, 5, 6, 8, 10, 11, 13])
    }

    func testSkipBadLinesMode() throws {
        let trace = mixedTrace()
        let reader = try TraceReader(path: temporaryFile(self, contents: trace.bytes), mode: .skipBadLines)
        let results = readAll(reader)
        XCTAssertEqual(results.compactMap { try? $0.get().line }, trace.good)
        XCTAssertEqual(results.count, trace.good.count, "nothing thrown")
        XCTAssertEqual(reader.skippedLines, trace.bad.count)
        XCTAssertEqual(reader.errors.map(\.line), trace.bad)
        let pidColumn = column(after: "\"pid\":", in: event(5_500, pid: "\"1\""))
        let ktimeColumn = column(after: "\"ktime_ns\":", in: event(4_000))
        XCTAssertEqual(reader.errors.map(\.column), [nil, 1, 1, pidColumn, ktimeColumn, 24, nil, 21])
        let messages = reader.errors.map(\.message)
        let expected = [
            "blank line (expected a JSON object)",
            "expected 'null', got 'not'",
            "expected a JSON object, got an array",
            "\"pid\" must be a number, got a string",
            "time goes backwards: ktime_ns 4000 is smaller than the previous event's 5000 (line 2)",
            "invalid UTF-8: byte 0xFF never occurs in UTF-8",
            "line is too long: 70002 bytes, the limit is 65536 (skipped to the next line)",
            "last line is truncated (no newline at the end of the file): expected ':' after an object key, got the end of the input",
        ]
        XCTAssertEqual(messages, expected)
        XCTAssertEqual(reader.errors.first?.description, "\(reader.file):3: blank line (expected a JSON object)")
        XCTAssertEqual(reader.errors[1].description, "\(reader.file):4:1: expected 'null', got 'not'")

        guard case .passthrough("graph.edge_added", let bytes, line: 7) = try results[2].get() else { return XCTFail() }
        XCTAssertEqual(bytes, Array(graph.utf8), "kept byte for byte, without the \\r\\n")
        guard case .event(let seedEvent, line: 12) = try results[4].get() else { return XCTFail() }
        XCTAssertEqual(seedEvent.monotonicNanoseconds, 1_710_000_000_000_000_000)
        guard case .started(let info, line: 1) = try results[0].get() else { return XCTFail() }
        XCTAssertEqual(info.host, "n")
    }

    func testStopOnErrorModeThrowsEachErrorAndReadsOn() throws {
        let trace = mixedTrace()
        let reader = try TraceReader(path: temporaryFile(self, contents: trace.bytes))
        let results = readAll(reader)
        XCTAssertEqual(results.count, trace.good.count + trace.bad.count)
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let entry):
                XCTAssertTrue(trace.good.contains(entry.line), "line \(entry.line)")
                XCTAssertEqual(entry.line, index + 1)
            case .failure(let error):
                XCTAssertTrue(trace.bad.contains(error.line), "line \(error.line)")
                XCTAssertEqual(error.line, index + 1)
            }
        }
        XCTAssertEqual(reader.skippedLines, 0)
        XCTAssertEqual(reader.errors, [])
    }

    func testTheFirstHundredErrorsAreKept() throws {
        let bytes = (0..<150).flatMap { _ in Array("{}\n".utf8) } + Array(graph.utf8) + [0x0A]
        let reader = try TraceReader(path: temporaryFile(self, contents: bytes), mode: .skipBadLines)
        let results = readAll(reader)
        XCTAssertEqual(results.count, 1)
        XCTAssertEqual(reader.skippedLines, 150)
        XCTAssertEqual(reader.errors.count, TraceReader.keptErrorLimit)
        XCTAssertEqual(reader.errors.last?.line, 100)
        XCTAssertEqual(reader.errors.last?.message, "missing key \"event_type\" (a string)")
    }

    /// A 10 MB line is skipped through the 64 KiB chunk: the line buffer
    /// never grows past the limit, and the next line is read.
    func testAnAbsurdlyLongLineIsSkippedWithoutBeingKept() throws {
        let long = Array(#"{"event_type":"alert","x":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 10 << 20) + Array("\"}\r\n".utf8)
        let bytes = Array(graph.utf8) + [0x0A] + long + Array(seed.utf8) + [0x0A]
        let reader = try TraceReader(path: temporaryFile(self, contents: bytes))
        XCTAssertEqual(try reader.next()?.line, 1)
        XCTAssertThrowsError(try reader.next()) { error in
            let error = error as? TraceError
            XCTAssertEqual(error?.line, 2)
            XCTAssertEqual(error?.message, "line is too long: \(long.count - 2) bytes, the limit is 65536 (skipped to the next line)")
        }
        XCTAssertLessThan(reader.splitter.text.capacity, 2 * TraceReader.maximumLineLength)
        guard case .event(let event, line: 3) = try reader.next() else { return XCTFail() }
        XCTAssertEqual(event.owner.pid, 1024)
        XCTAssertNil(try reader.next())
        XCTAssertNil(try reader.next(), "stays at the end")
    }

    /// A replay decodes every event into one buffer: each event comes out
    /// whole, with nothing left from the line before, whether the scanner or
    /// the parser reads it, and whatever lines come between.
    func testEventsDecodedIntoOneBufferAreTheEntriesEvents() throws {
        var events = EventGenerator(generator: SeededGenerator(seed: 0xB0F))
        var lines: [[UInt8]] = []
        for number in 0..<200 {
            let time = UInt64(1_000 + number)
            switch number % 4 {
            case 0: lines.append(Array(seed.replacingOccurrences(of: "\"value\"", with: "\"ktime_ns\":\(time),\"value\"").utf8))
            case 1: lines.append(Array(graph.utf8))
            default: lines.append(encodedLine(events.event(at: time)))
            }
        }
        let path = try temporaryFile(self, contents: lines.flatMap { $0 + [0x0A] })
        let entries = readAll(try TraceReader(path: path)).compactMap { try? $0.get() }
        XCTAssertEqual(entries.count, lines.count)

        let reader = try TraceReader(path: path)
        var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        for entry in entries {
            switch try reader.next(decodingEventInto: &event) {
            case .event: XCTAssertEqual(TraceEntry.event(event, line: entry.line), entry)
            case .entry(let other): XCTAssertEqual(other, entry)
            case nil: XCTFail("ends early")
            }
        }
        XCTAssertNil(try reader.next(decodingEventInto: &event))
    }

    func testLinesOfExactlyTheLimitAreRead() throws {
        let padding = TraceReader.maximumLineLength - graph.utf8.count
        let line = Array(repeating: UInt8(ascii: " "), count: padding) + Array(graph.utf8)
        let bytes = line + [0x0D, 0x0A] + line + [0x20, 0x0A] + line
        let reader = try TraceReader(path: temporaryFile(self, contents: bytes), mode: .skipBadLines)
        XCTAssertEqual(readAll(reader).compactMap { try? $0.get().line }, [1, 3])
        XCTAssertEqual(reader.errors.map(\.line), [2])
    }

    func testEmptyFileAndFinalNewlines() throws {
        XCTAssertNil(try TraceReader(path: temporaryFile(self, contents: [])).next())
        let reader = try TraceReader(path: temporaryFile(self, contents: Array(graph.utf8) + [0x0A, 0x0A]), mode: .skipBadLines)
        XCTAssertEqual(readAll(reader).count, 1)
        XCTAssertEqual(reader.errors.map(\.line), [2], "an empty last line is a blank line")
    }

    func testFilesThatCannotBeRead() throws {
        XCTAssertThrowsError(try TraceReader(path: "/nonexistent/trace.jsonl")) { error in
            XCTAssertEqual((error as? TraceError)?.description, "/nonexistent/trace.jsonl: cannot open: No such file or directory")
        }
        let directory = FileManager.default.temporaryDirectory.path
        let reader = try TraceReader(path: directory, mode: .skipBadLines)
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertEqual((error as? TraceError)?.description, "\(directory):1: cannot read: Is a directory")
        }
        XCTAssertNil(try reader.next())
    }
}
