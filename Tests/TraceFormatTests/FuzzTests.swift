import Foundation
import ProbeEvents
import XCTest
@testable import TraceFormat

/// Seeded random and mutated lines: each decodes or fails with an error
/// located inside the line; never a crash, a hang or a mismatch with
/// Foundation's own JSON parser about what is valid.
final class FuzzTests: XCTestCase {
    static let interesting: [UInt8] = Array("{}[],:\"\\0123456789eE.-+ \t\rtfnu".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]

    static func baseLines(_ generator: inout SeededGenerator) -> [[UInt8]] {
        var events = EventGenerator(generator: generator)
        defer { generator = events.generator }
        var lines = (0..<60).map { _ in encodedLine(events.event(at: UInt64.random(in: 0...(1 << 62), using: &events.generator))) }
        lines += [
            #"{"ts":1710000000000,"event_type":"probe.started","entity_id":"probe-n","pid":7,"value":"tp_btf","host":"n","kernel":"6.18","attribution":"socket-owner","reports_failed_retransmits":true,"hooks":"a -> b; c -> d","clock_offset_ns":-12}"#,
            #"{"ts":1,"event_type":"graph.edge_added","entity_id":"peer-10.0.0.2","pid":1,"value":"waits_on","retransmit_rate":1.5,"window_s":10}"#,
            #"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"}"#,
            #"{"a":[1,-2.5e+3,true,false,null,{"b":"\uD83D\uDE00\u00e9\n"}],"event_type":"x"}"#,
        ].map { Array($0.utf8) }
        return lines
    }

    static func mutate(_ line: [UInt8], _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = line
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            let interesting = Self.interesting.randomElement(using: &generator)!
            switch Int.random(in: 0..<7, using: &generator) {
            case 0 where !bytes.isEmpty: bytes[position] = interesting
            case 1: bytes.insert(interesting, at: position)
            case 2 where !bytes.isEmpty: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &generator)))
            case 3: bytes.removeSubrange(position...)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...40, using: &generator))
                bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &generator))
            case 5: bytes.insert(contentsOf: Array("\\u\(String(UInt16.random(in: 0...UInt16.max, using: &generator), radix: 16))".utf8), at: position)
            default: if !bytes.isEmpty { bytes[position] = UInt8.random(in: 0...255, using: &generator) }
            }
        }
        return bytes
    }

    func check(_ line: [UInt8], file: StaticString = #filePath, callLine: UInt = #line) {
        let description = String(decoding: line, as: UTF8.self).debugDescription
        if case .failure(let error) = decodeLine(line) {
            XCTAssertFalse(error.message.isEmpty, description, file: file, line: callLine)
            if let column = error.column {
                XCTAssertTrue((1...(line.count + 1)).contains(column), "column \(column) in \(description)", file: file, line: callLine)
            }
        }
        // What this parser accepts, Foundation's accepts too (except
        // numbers beyond Double's range, which Foundation refuses to hold).
        if (try? JSONValue(parsing: line)) != nil {
            do {
                _ = try JSONSerialization.jsonObject(with: Data(line), options: .fragmentsAllowed)
            } catch {
                XCTAssertTrue("\(error)".contains("is not representable"), "\(error): \(description)", file: file, line: callLine)
            }
        }
    }

    func testMutatedAndRandomLines() throws {
        var generator = SeededGenerator(seed: 0xF022)
        let bases = Self.baseLines(&generator)
        var lines: [[UInt8]] = []
        for round in 0..<4000 {
            if round % 8 == 0 {
                lines.append((0..<Int.random(in: 0...80, using: &generator)).map { _ in
                    Bool.random(using: &generator) ? Self.interesting.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
                })
            } else {
                lines.append(Self.mutate(bases.randomElement(using: &generator)!, &generator))
            }
        }
        var decoded = 0
        for line in lines {
            check(line)
            if case .success = decodeLine(line) { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 100, "the mutations leave some lines valid")
        XCTAssertLessThan(decoded, lines.count / 2, "and break most")

        // The same lines as one file: every line is either read or skipped.
        let file = lines.flatMap { $0.map { $0 == 0x0A ? 0x20 : $0 } + [0x0A] }
        let reader = try TraceReader(path: temporaryFile(self, contents: file), mode: .skipBadLines)
        let entries = readAll(reader)
        XCTAssertEqual(entries.count + reader.skippedLines, lines.count)
        XCTAssertTrue(reader.errors.allSatisfy { $0.column.map { $0 >= 1 } ?? true })
    }

    func testDeepNestingAndLongTokensStayBounded() {
        for text in [
            String(repeating: "[", count: 100_000),
            String(repeating: "{\"a\":", count: 50_000),
            "\"" + String(repeating: "\\u0041", count: 10_000) + "\"",
            String(repeating: "9", count: 60_000),
            "1e" + String(repeating: "9", count: 60_000),
            "[" + String(repeating: "0,", count: 30_000) + "0]",
            "{" + (0..<5_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}",
        ] {
            XCTAssertNoThrow(try? JSONValue(parsing: Array(text.utf8)))
        }
        XCTAssertNil(JSONNumber(String(repeating: "9", count: 60_000))?.uint64)
        XCTAssertEqual(JSONNumber("1" + String(repeating: "0", count: 19) + "e-19")?.uint64, 1)
    }
}
