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
            Result { () throws(LineError) in try decoder.parsedEntry(bytes, line: 1, terminated: true) }
        }
        guard case .success(.event(let event, _)) = result else { return nil }
        return (event, decoder.dropReasonNames[event.dropReason])
    }

    /// The scanner's event, and the drop reason name it found (its bytes
    /// are the line's, so read here).
    func scanned(_ line: [UInt8]) -> (event: ProbeEvent, dropReasonName: String?)? {
        var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        return line.withUnsafeBytes { bytes in
            AgentLineScanner().scan(bytes, into: &event).map { (event, $0.dropReasonName.map { String(decoding: $0, as: UTF8.self) }) }
        }
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
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: line[position] = plainBytes.randomElement(using: &generator)!
                    case 3 where isDecimalDigit(line[position]):
                        // Numbers out of range, leading zeros, values the decoder refuses.
                        line[position] = UInt8.random(in: UInt8(ascii: "0")...UInt8(ascii: "9"), using: &generator)
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
        XCTAssertGreaterThan(agreed, 200, "some mutations stay in the plain layout")
    }

    /// Lines outside the encoder's plain layout go to the parser, which
    /// reads them (or reports them) as before. Each is an encoded line with
    /// one change.
    func testLinesOutsideThePlainLayoutAreLeftToTheParser() {
        let event = ProbeEvent(
            kind: .retransmit, monotonicNanoseconds: 7_000_000_000,
            owner: SocketOwner(pid: 1024, tid: 1025, uid: 1000, cgroupID: 77, command: Command("python3"), source: .socket),
            connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                                   remoteAddress: IPAddress(ipv4: 10, 0, 0, 2), remotePort: 29500, state: .established),
            socketCookie: 9, networkNamespace: 4026531840, segments: 2, cause: .rto, congestionState: .loss, backoff: 1)
        var writer = JSONLineWriter(capacity: 1024)
        testEncoder.encode(event, identity: Self.identityFields, into: &writer)
        let encoded = String(decoding: writer.bytes.dropLast(), as: UTF8.self)
        XCTAssertEqual(scanned(Array(encoded.utf8))?.event, event, encoded)

        // (what to replace, with what, whether the parser still reads the line)
        let table: [(String, String, Bool)] = [
            (#","event_type""#, #", "event_type""#, true),
            (#"{"ts""#, #" {"ts""#, true),
            (#""ts":1710000002000"#, #""ts":1.710000002e12"#, true),
            (#""comm":"python3""#, #""comm":"py\u0074hon3""#, true),
            (#""entity_id":"network-pid-1024""#, #""entity_id":"réseau""#, true),
            (#","attribution""#, #","extra":[1],"attribution""#, true),
            (#","attribution""#, #","extra":true,"attribution""#, true),
            (#","socket_cookie""#, #","extra":1,"socket_cookie""#, true),
            (#","uid":1000"#, "", true),
            (#""cause":"rto","ca_state":"loss""#, #""ca_state":"loss","cause":"rto""#, true),
            (#""ktime_ns":7000000000"#, #""ktime_ns":-0"#, true),
            (#","attribution""#, #","job":"again","attribution""#, false),
            (#","attribution""#, #","pid":2,"attribution""#, false),
            (#""pid":1024"#, #""pid":4294967296"#, false),
            (#""ts":1710000002000"#, #""ts":18446744073709551616"#, false),
            (#""sport":40000"#, #""sport":040000"#, false),
            (#""value":"2""#, #""value":"02""#, false),
            (#""backoff":1"#, #""backoff":256"#, false),
            (#""ktime_ns":7000000000}"#, #""ktime_ns":7000000000}x"#, false),
            (#""ktime_ns":7000000000}"#, #""ktime_ns":7000000000,}"#, false),
            (#""pid":1024"#, #""pid":"1024""#, false),
            (#""saddr":"10.0.0.1""#, #""saddr":"10.0.0.256""#, false),
            (#""comm":"python3""#, #""comm":"sixteen-bytes-xx""#, false),
            (#""cause":"rto""#, #""cause":"slow""#, false),
            (#""event_type":"transport.drop""#, #""event_type":"probe.loss""#, true),
        ]
        for (old, new, parserReadsIt) in table {
            XCTAssertTrue(encoded.contains(old), old)
            let text = encoded.replacingOccurrences(of: old, with: new)
            let line = Array(text.utf8)
            XCTAssertNil(scanned(line), "\(old) -> \(new)")
            var decoder = TraceLineDecoder()
            let viaDecoder = line.withUnsafeBytes { bytes in
                Result { () throws(LineError) in try decoder.entry(bytes, line: 1, terminated: true) }
            }
            var general = TraceLineDecoder()
            let viaParser = line.withUnsafeBytes { bytes in
                Result { () throws(LineError) in try general.parsedEntry(bytes, line: 1, terminated: true) }
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
                Result { () throws(LineError) in try decoder.entry(bytes, line: number, terminated: true) }
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
