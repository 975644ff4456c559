import CArkProbeRecords
import XCTest
@testable import ProbeEvents

final class RecordDecodingTests: XCTestCase {
    func testRecordLayoutMatchesTheSharedHeader() {
        XCTAssertEqual(MemoryLayout<ark_record>.size, Int(ARK_RECORD_SIZE))
        XCTAssertEqual(MemoryLayout<ark_record>.size, 144)
        XCTAssertEqual(MemoryLayout<ark_owner>.size, 40)
        XCTAssertEqual(MemoryLayout<ark_flow>.size, 48)
        XCTAssertEqual(MemoryLayout<ark_record>.offset(of: \.owner), 32)
        XCTAssertEqual(MemoryLayout<ark_record>.offset(of: \.flow), 72)
        XCTAssertEqual(MemoryLayout<ark_record>.offset(of: \.segments), 120)
        XCTAssertEqual(MemoryLayout<ark_record>.offset(of: \.backoff), 135)
    }

    func testDecodesARetransmitRecord() throws {
        var record = ark_record()
        record.kind = UInt32(ARK_RECORD_RETRANSMIT.rawValue)
        record.ktime_ns = 123_456_789
        record.socket_cookie = 77
        record.netns = 4026531840
        record.socket_cgroup_id = 9
        record.owner.tgid = 1024
        record.owner.tid = 1030
        record.owner.uid = 1000
        record.owner.cgroup_id = 42
        record.owner.source = UInt8(ARK_OWNER_SOCKET.rawValue)
        withUnsafeMutableBytes(of: &record.owner.comm) { $0.copyBytes(from: Array("python3".utf8)) }
        withUnsafeMutableBytes(of: &record.flow.saddr) { $0.copyBytes(from: [0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 10,0,0,1]) }
        withUnsafeMutableBytes(of: &record.flow.daddr) { $0.copyBytes(from: [0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 10,0,0,2]) }
        record.flow.sport = 40000
        record.flow.dport = 5001
        record.flow.family = 2
        record.flow.tcp_state = 1
        record.segments = 3
        record.error = 0
        record.cause = UInt8(ARK_CAUSE_RTO.rawValue)
        record.ca_state = 4
        record.backoff = 2

        let event = try XCTUnwrap(withUnsafePointer(to: &record) { ProbeEvent(record: $0) })
        XCTAssertEqual(event.kind, .retransmit)
        XCTAssertEqual(event.monotonicNanoseconds, 123_456_789)
        XCTAssertEqual(event.owner.pid, 1024)
        XCTAssertEqual(event.owner.tid, 1030)
        XCTAssertEqual(event.owner.command.description, "python3")
        XCTAssertEqual(event.owner.source, .socket)
        XCTAssertEqual(event.connection.localAddress, IPAddress(ipv4: 10, 0, 0, 1))
        XCTAssertEqual(event.connection.remoteAddress, IPAddress(ipv4: 10, 0, 0, 2))
        XCTAssertEqual(event.connection.family, .ipv4)
        XCTAssertEqual(event.connection.state, .established)
        XCTAssertEqual(event.segments, 3)
        XCTAssertEqual(event.cause, .rto)
        XCTAssertEqual(event.congestionState, .loss)
        XCTAssertEqual(event.backoff, 2)
        XCTAssertTrue(event.isSentRetransmit)
    }

    func testRejectsAnUnknownKind() {
        var record = ark_record()
        record.kind = 99
        XCTAssertNil(withUnsafePointer(to: &record) { ProbeEvent(record: $0) })
    }

    func testUnknownEnumValuesDecodeToSafeDefaults() throws {
        var record = ark_record()
        record.kind = UInt32(ARK_RECORD_CONG_STATE.rawValue)
        record.cause = 200
        record.ca_state = 77
        record.owner.source = 9
        record.flow.tcp_state = 99
        record.flow.family = 3
        let event = try XCTUnwrap(withUnsafePointer(to: &record) { ProbeEvent(record: $0) })
        XCTAssertEqual(event.cause, .unknown)
        XCTAssertEqual(event.congestionState, .open)
        XCTAssertEqual(event.owner.source, .none)
        XCTAssertEqual(event.connection.state, .unknown)
        XCTAssertEqual(event.connection.family, .unspecified)
    }
}
