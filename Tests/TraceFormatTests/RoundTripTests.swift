import ProbeEvents
import XCTest
@testable import TraceFormat

/// Random events in the form the encoder can write back exactly: fields a
/// kind's line does not carry keep their defaults (see EventLineDecoder).
struct EventGenerator {
    var generator: SeededGenerator

    mutating func number<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type = T.self) -> T {
        switch Int.random(in: 0..<8, using: &generator) {
        case 0: 0
        case 1: .max
        case 2: T.random(in: 0...1000, using: &generator)
        default: T.random(in: 0...T.max, using: &generator)
        }
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values.randomElement(using: &generator)!
    }

    mutating func command() -> Command {
        let length = Int.random(in: 0...15, using: &generator)
        let printable = Bool.random(using: &generator)
        return rawCommand((0..<length).map { _ in
            printable ? UInt8.random(in: 0x20...0x7E, using: &generator) : UInt8.random(in: 1...255, using: &generator)
        })
    }

    mutating func address() -> IPAddress {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: IPAddress()
        case 1: IPAddress(ipv4: number(), number(), number(), number())
        case 2: IPAddress(bytes: [0xfe, 0x80] + Array(repeating: 0, count: 12) + [number(), number()])
        default: IPAddress(bytes: (0..<16).map { _ in number() })
        }
    }

    mutating func event(at time: UInt64) -> ProbeEvent {
        let kind = pick([ProbeEvent.Kind.retransmit, .synAckRetransmit, .congestionState, .drop, .processExit])
        var event = ProbeEvent(kind: kind, monotonicNanoseconds: time)
        event.owner.pid = Bool.random(using: &generator) ? 0 : number()
        if event.owner.pid != 0 || kind == .processExit {
            event.owner.command = command()
            event.owner.cgroupID = number()
        }
        if kind == .processExit {
            event.dropReason = number()
            return event
        }
        if event.owner.pid != 0 {
            event.owner.tid = number()
            event.owner.uid = number()
        }
        event.owner.source = pick(SocketOwner.Source.namedValues)
        event.connection = Connection(
            family: pick(AddressFamily.namedValues), localAddress: address(), localPort: number(),
            remoteAddress: address(), remotePort: number(), state: pick(TCPState.allCases))
        event.socketCookie = number()
        event.networkNamespace = number()
        event.socketCgroupID = number()
        switch kind {
        case .retransmit, .synAckRetransmit:
            event.segments = number()
            event.cause = kind == .synAckRetransmit ? .synAck : pick(RetransmitCause.allCases.filter { $0 != .synAck })
            event.congestionState = pick(CongestionState.allCases)
            event.backoff = number()
            if Bool.random(using: &generator) {
                event.error = Int32.random(in: -Int32.max...Int32.max, using: &generator)
            }
        case .congestionState:
            event.congestionState = pick(CongestionState.allCases)
            event.previousCongestionState = pick(CongestionState.allCases)
            event.backoff = number()
        case .drop:
            event.dropReason = number()
            if event.socketCookie == 0 { event.connection.state = .unknown }
        case .processExit:
            break
        }
        return event
    }
}

final class RoundTripTests: XCTestCase {
    /// encode → decode gives the event back, and decode → encode the line.
    func testRandomEventsSurviveEncodingAndDecoding() throws {
        var events = EventGenerator(generator: SeededGenerator(seed: 2024))
        var time = UInt64(1) << 40
        var file: [UInt8] = []
        var written: [ProbeEvent] = []
        for _ in 0..<4000 {
            // Equal times happen (several CPUs in one nanosecond); backwards never.
            time += Bool.random(using: &events.generator) ? 0 : UInt64.random(in: 1...2_000_000_000, using: &events.generator)
            let event = events.event(at: time)
            let line = encodedLine(event)
            switch decodeLine(line) {
            case .success(.event(let decoded, _)):
                XCTAssertEqual(decoded, event, String(decoding: line, as: UTF8.self))
                XCTAssertEqual(encodedLine(decoded), line)
            case let other:
                XCTFail("\(other) for \(String(decoding: line, as: UTF8.self))")
            }
            written.append(event)
            file += line + [0x0A]
        }
        let reader = try TraceReader(path: temporaryFile(self, contents: file))
        var read: [ProbeEvent] = []
        while let entry = try reader.next() {
            guard case .event(let event, let line) = entry else { return XCTFail("\(entry)") }
            XCTAssertEqual(line, read.count + 1)
            read.append(event)
        }
        XCTAssertEqual(read, written)
    }
}
