import Foundation
import XCTest
@testable import ProbeEvents
@testable import TraceFormat

/// SplitMix64: a small seeded generator, so every random test is repeatable.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// 1_710_000_000_000 ms after the epoch at monotonic 5 s, as in ProbeEventsTests.
let testClock = WallClock(offsetNanoseconds: 1_710_000_000_000_000_000 - 5_000_000_000)
var testEncoder: EventLineEncoder {
    EventLineEncoder(clock: testClock, dropReasonNames: [2: "NOT_SPECIFIED", 12: "NETFILTER_DROP"])
}

/// The line EventLineEncoder writes for `event`, without its "\n".
func encodedLine(_ event: ProbeEvent) -> [UInt8] {
    var writer = JSONLineWriter(capacity: 1024)
    testEncoder.encode(event, into: &writer)
    return Array(writer.bytes.dropLast())
}

extension TraceLineDecoder {
    /// A line as `TraceReader.next()` hands it out.
    mutating func entry(_ bytes: UnsafeRawBufferPointer, line number: Int, terminated: Bool) throws(LineError) -> TraceEntry {
        var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        return try Self.entry(decode(bytes, line: number, terminated: terminated, into: &event), event: event, line: number)
    }

    /// The same, read by the JSON parser only.
    mutating func parsedEntry(_ bytes: UnsafeRawBufferPointer, line number: Int, terminated: Bool) throws(LineError) -> TraceEntry {
        var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        return try Self.entry(decodeParsed(bytes, line: number, terminated: terminated, into: &event), event: event, line: number)
    }

    private static func entry(_ item: TraceReader.Item, event: ProbeEvent, line number: Int) -> TraceEntry {
        switch item {
        case .event: .event(event, line: number)
        case .entry(let entry): entry
        }
    }
}

/// Decodes one line on its own (a fresh decoder: no time-order history).
func decodeLine(_ bytes: [UInt8], terminated: Bool = true) -> Result<TraceEntry, LineError> {
    var decoder = TraceLineDecoder()
    return bytes.withUnsafeBytes { buffer in
        Result { () throws(LineError) in try decoder.entry(buffer, line: 1, terminated: terminated) }
    }
}

func decodeLine(_ text: String) -> Result<TraceEntry, LineError> {
    decodeLine(Array(text.utf8))
}

/// A comm from raw bytes, built with ProbeEvents' own record initializer
/// (independent of the decoder's way of building one).
func rawCommand(_ bytes: [UInt8]) -> Command {
    var raw: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
              CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes.prefix(15)) }
    return Command(raw)
}

/// 1-based column just after the first occurrence of `marker` in `text`:
/// where the value of a key starts when `marker` is `"key":`.
func column(after marker: String, in text: String) -> Int {
    let bytes = Array(text.utf8), pattern = Array(marker.utf8)
    for start in 0...(bytes.count - pattern.count) where Array(bytes[start..<(start + pattern.count)]) == pattern {
        return start + pattern.count + 1
    }
    XCTFail("\(marker) not in \(text)")
    return 0
}

/// A file in a fresh temporary directory, removed when the test ends.
func temporaryFile(_ test: XCTestCase, named name: String = "trace.jsonl", contents: [UInt8]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("TraceFormatTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent(name)
    try Data(contents).write(to: url)
    return url.path
}

/// Every entry, and every error in order: each call of next() either returns or throws.
func readAll(_ reader: TraceReader) -> [Result<TraceEntry, TraceError>] {
    var results: [Result<TraceEntry, TraceError>] = []
    while true {
        do {
            guard let entry = try reader.next() else { return results }
            results.append(.success(entry))
        } catch {
            results.append(.failure(error))
        }
    }
}
