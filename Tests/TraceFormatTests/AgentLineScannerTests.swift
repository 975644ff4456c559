import ProbeEvents
import XCTest
@testable import TraceFormat

/// The scanner of the agent's own lines against the general parser: it
/// reads every line the encoder writes, to the same event, and any line it
/// reads at all, it reads as the parser does.
final class AgentLineScannerTests: XCTestCase {
    /// What the general path makes of the line: the event and the drop
    /// reason name it learns, or nil when the line is not an event or fails.
    func parsed(_ line: [UInt8]) -> (ProbeEvent, String?)? {
        var decoder = TraceLineDecoder()
        let result = line.withUnsafeBytes { bytes in
            Result { () throws(LineError) in try decoder.decodeParsed(bytes, line: 1, terminated: true) }
        }
        guard case .success(.event(let event, _)) = result else { return nil }
        return (event, decoder.dropReasonNames[event.dropReason])
    }

    func scanned(_ line: [UInt8]) -> AgentLineScanner.Scanned? {
        line.withUnsafeBytes { AgentLineScanner().scan($0) }
    }

    /// A process's identity fields, as the agent puts them after cgroup_id.
    static let identityFields = Array(
        #","job":"run:llama-7b","rank":3,"local_rank":1,"world_size":8,"cgroup_path":"/kubepods.slice/pod-a/cri-containerd-1.scope""#.utf8)

    func testEveryEncodedEventIsScannedToTheParsersEvent() {
        var events = EventGenerator(generator: SeededGenerator(seed: 0x5CA7))
        var outsideThePlainLayout = 0
        for round in 0..<5_000 {
            let event = events.event(at: UInt64.random(in: 0...(1 << 62), using: &events.generator))
            var writer = JSONLineWriter(capacity: 1024)
            testEncoder.encode(event, identity: round % 3 == 0 ? Self.identityFields : [], into: &writer)
            let line = Array(writer.bytes.dropLast())
            guard let (expected, reason) = parsed(line) else { return XCTFail("the parser refuses \(String(decoding: line, as: UTF8.self))") }
            guard let scanned = scanned(line) else {
                // Only a comm that is not ASCII, or needs escapes, leaves the plain layout.
                XCTAssertTrue(line.contains { $0 == UInt8(ascii: "\\") || $0 >= 0x80 }, String(decoding: line, as: UTF8.self))
                outsideThePlainLayout += 1
                continue
            }
            XCTAssertEqual(scanned.event, expected, String(decoding: line, as: UTF8.self))
            XCTAssertEqual(scanned.event.kind == .drop ? scanned.dropReasonName : reason, reason)
        }
        XCTAssertLessThan(outsideThePlainLayout, 2_500, "most generated lines are in the plain layout")
    }

    /// Mutated lines: whatever the scanner reads, the parser reads the same.
    /// Half the mutations keep to bytes of the plain layout (digits, letters,
    /// quotes, commas, colons, '-', '.'), so that many lines stay scannable.
    func testScannedMutationsAgreeWithTheParser() {
        var generator = SeededGenerator(seed: 0xA6E7)
        let bases = FuzzTests.baseLines(&generator)
        let plainBytes = Array("0123456789-.:,\"abcfilnpstuvxEINOPST_".utf8)
        var agreed = 0
        for round in 0..<15_000 {
            var line = bases.randomElement(using: &generator)!
            if round % 2 == 0 {
                line = FuzzTests.mutate(line, &generator)
            } else {
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let position = Int.random(in: 0..<line.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: line[position] = plainBytes.randomElement(using: &generator)!
                    case 1: line.insert(plainBytes.randomElement(using: &generator)!, at: position)
                    default:
                        let end = min(line.count, position + Int.random(in: 1...30, using: &generator))
                        line.insert(contentsOf: line[position..<end], at: Int.random(in: 0...line.count, using: &generator))
                    }
                }
            }
            guard let scanned = scanned(line) else { continue }
            let description = String(decoding: line, as: UTF8.self).debugDescription
            guard let (expected, reason) = parsed(line) else { return XCTFail("scanned but the parser refuses \(description)") }
            XCTAssertEqual(scanned.event, expected, description)
            if scanned.event.kind == .drop { XCTAssertEqual(scanned.dropReasonName, reason, description) }
            agreed += 1
        }
        XCTAssertGreaterThan(agreed, 600, "some mutations stay in the plain layout")
    }

    /// Lines outside the plain layout go to the parser, which reads them
    /// (or reports them) as before.
    func testLinesOutsideThePlainLayoutAreLeftToTheParser() {
        let plain = #"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1","comm":"python3","ktime_ns":5}"#
        XCTAssertNotNil(scanned(Array(plain.utf8)))
        let table: [(String, Bool)] = [
            (#"{"ts":1710000000000, "event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, true),
            (#" {"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, true),
            (#"{"ts":1.71e12,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","comm":"py\u0074hon"}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"é","pid":1,"value":"1"}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","extra":[1]}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","extra":true}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":-0,"value":"1"}"#, true),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","job":"a","job":"b"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"pid":2,"value":"1"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":4294967296,"value":"1"}"#, false),
            (#"{"ts":18446744073709551616,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":01,"value":"1"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"01"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}x"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1",}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":"1","value":"1"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","saddr":"10.0.0.256"}"#, false),
            (#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","comm":"sixteen-bytes-xx"}"#, false),
            (#"{"ts":1710000000000,"event_type":"probe.loss","entity_id":"e","pid":1,"value":"1"}"#, true),
        ]
        for (text, parserReadsIt) in table {
            let line = Array(text.utf8)
            XCTAssertNil(scanned(line), text)
            var decoder = TraceLineDecoder()
            let viaDecoder = line.withUnsafeBytes { bytes in
                Result { () throws(LineError) in try decoder.decode(bytes, line: 1, terminated: true) }
            }
            var general = TraceLineDecoder()
            let viaParser = line.withUnsafeBytes { bytes in
                Result { () throws(LineError) in try general.decodeParsed(bytes, line: 1, terminated: true) }
            }
            switch (viaDecoder, viaParser) {
            case (.success(let entry), .success(let expected)):
                XCTAssertTrue(parserReadsIt, text)
                XCTAssertEqual(entry, expected, text)
            case (.failure(let error), .failure(let expected)):
                XCTAssertFalse(parserReadsIt, text)
                XCTAssertEqual(error.message, expected.message, text)
                XCTAssertEqual(error.column, expected.column, text)
            default:
                XCTFail("the decoder and the parser disagree on \(text)")
            }
        }
    }

    /// A line whose event is earlier than allowed is reported by the parser
    /// path, with the parser's message; the scanner never accepts it.
    func testTimeGoingBackwardsIsStillAnError() {
        var decoder = TraceLineDecoder()
        let later = Array(#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","ktime_ns":2000}"#.utf8)
        let earlier = Array(#"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","ktime_ns":1000}"#.utf8)
        for (line, number) in [(later, 1), (earlier, 2)] {
            let result = line.withUnsafeBytes { bytes in
                Result { () throws(LineError) in try decoder.decode(bytes, line: number, terminated: true) }
            }
            if number == 1 {
                guard case .success = result else { return XCTFail("the first line is read") }
            } else {
                guard case .failure(let error) = result else { return XCTFail("the second line goes back in time") }
                XCTAssertEqual(error.message, "time goes backwards: ktime_ns 1000 is smaller than the previous event's 2000 (line 1)")
            }
        }
    }
}
