import XCTest
@testable import ProbeEvents

final class EventLineTests: XCTestCase {
    // 1_710_000_000_000 ms after the epoch at monotonic 5 s.
    let clock = WallClock(offsetNanoseconds: 1_710_000_000_000_000_000 - 5_000_000_000)
    lazy var encoder = EventLineEncoder(clock: clock, dropReasonNames: [12: "NETFILTER_DROP"])

    func line(_ event: ProbeEvent) -> String {
        var writer = JSONLineWriter()
        encoder.encode(event, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    var owner: SocketOwner {
        SocketOwner(pid: 1024, tid: 1025, uid: 0, cgroupID: 7, command: Command("torchrun"), source: .socket)
    }

    var connection: Connection {
        Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                   remoteAddress: IPAddress(ipv4: 10, 0, 0, 2), remotePort: 29500, state: .established)
    }

    func testRetransmitLineStartsWithTheSeedsShape() {
        let event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 5_000_000_000, owner: owner,
                               connection: connection, socketCookie: 11, networkNamespace: 4026531840,
                               socketCgroupID: 7, segments: 1, cause: .rto, congestionState: .loss, backoff: 1)
        var timed = event
        timed.smoothedRTTMicroseconds = 1500
        timed.retransmitTimeoutMicroseconds = 201_500
        timed.packetsOut = 12
        XCTAssertEqual(line(timed), """
            {"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1",\
            "tid":1025,"comm":"torchrun","uid":0,"cgroup_id":7,"attribution":"socket","family":"ipv4",\
            "saddr":"10.0.0.1","sport":40000,"daddr":"10.0.0.2","dport":29500,"tcp_state":"ESTABLISHED",\
            "cause":"rto","ca_state":"loss","backoff":1,"srtt_us":1500,"rto_us":201500,"packets_out":12,"socket_cookie":11,"socket_cgroup_id":7,\
            "netns":4026531840,"ktime_ns":5000000000}

            """)
    }

    func testFailedRetransmitIsItsOwnTypeWithTheErrno() {
        let event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 5_001_000_000, owner: owner,
                               connection: connection, segments: 4, error: -16, cause: .fastRetransmit,
                               congestionState: .recovery)
        let text = line(event)
        XCTAssertTrue(text.hasPrefix(#"{"ts":1710000000001,"event_type":"transport.retransmit_failed","entity_id":"network-pid-1024","pid":1024,"value":"4","#), text)
        XCTAssertTrue(text.contains(#""cause":"fast","ca_state":"recovery","backoff":0,"srtt_us":0,"rto_us":0,"packets_out":0,"error":"EBUSY","errno":16,"#), text)
    }

    func testCongestionLineCarriesBothStates() {
        let event = ProbeEvent(kind: .congestionState, monotonicNanoseconds: 5_000_000_000, owner: owner,
                               connection: connection, congestionState: .cwr, previousCongestionState: .open)
        let text = line(event)
        XCTAssertTrue(text.hasPrefix(#"{"ts":1710000000000,"event_type":"transport.congestion","entity_id":"network-pid-1024","pid":1024,"value":"cwr","#), text)
        XCTAssertTrue(text.contains(#""previous_ca_state":"open","#), text)
    }

    func testUnattributedDropUsesTheNamespaceEntity() {
        let event = ProbeEvent(kind: .drop, monotonicNanoseconds: 5_000_000_000, connection: connection,
                               networkNamespace: 4026532000, dropReason: 12)
        XCTAssertEqual(line(event), """
            {"ts":1710000000000,"event_type":"transport.kernel_drop","entity_id":"network-netns-4026532000",\
            "pid":0,"value":"1","attribution":"none","family":"ipv4","saddr":"10.0.0.1","sport":40000,\
            "daddr":"10.0.0.2","dport":29500,"reason":"NETFILTER_DROP","reason_code":12,"socket_cookie":0,\
            "socket_cgroup_id":0,"netns":4026532000,"ktime_ns":5000000000}

            """)
    }

    func testProcessExitLineNamesTheProcessEntity() {
        let event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 5_000_000_000, owner: owner, dropReason: 256)
        XCTAssertEqual(line(event), """
            {"ts":1710000000000,"event_type":"process.exit","entity_id":"process-pid-1024","pid":1024,"value":"1",\
            "comm":"torchrun","cgroup_id":7,"exit_code":256,"ktime_ns":5000000000}

            """)
    }

    func testUnknownDropReasonIsNamedByItsCode() {
        let event = ProbeEvent(kind: .drop, monotonicNanoseconds: 0, dropReason: 999)
        XCTAssertTrue(line(event).contains(#""reason":"UNKNOWN_999","reason_code":999"#))
    }

    /// Names below the encoded table's limit are copied pre-escaped; the
    /// rest (a replayed trace may carry any code) are looked up: both give
    /// the same text, and a name learned later replaces none.
    func testDropReasonNamesAreTheSameWhereverTheirCodeLies() {
        var encoder = EventLineEncoder(clock: clock, dropReasonNames: [
            3: "NO_SOCKET", 1023: #"ODD"NAME"#, 1024: "LARGE", 70_000: "LARGER",
        ])
        func reason(_ code: UInt32) -> String {
            var writer = JSONLineWriter()
            encoder.encode(ProbeEvent(kind: .drop, monotonicNanoseconds: 0, dropReason: code), into: &writer)
            let text = String(decoding: writer.bytes, as: UTF8.self)
            return String(text[text.range(of: #""reason":"#)!.upperBound...].prefix { $0 != "," })
        }
        XCTAssertEqual(reason(3), #""NO_SOCKET""#)
        XCTAssertEqual(reason(1023), #""ODD\"NAME""#)
        XCTAssertEqual(reason(1024), #""LARGE""#)
        XCTAssertEqual(reason(70_000), #""LARGER""#)
        XCTAssertEqual(reason(4), #""UNKNOWN_4""#)
        XCTAssertEqual(reason(2000), #""UNKNOWN_2000""#)
        encoder.dropReasonNames[4] = "LEARNED"
        XCTAssertEqual(reason(4), #""LEARNED""#)
        XCTAssertEqual(reason(3), #""NO_SOCKET""#)
    }

    func testEveryLineIsValidJSONWithTheSeedsKeyTypes() throws {
        let events = [
            ProbeEvent(kind: .retransmit, monotonicNanoseconds: 5_000_000_000, owner: owner, connection: connection, segments: 2),
            ProbeEvent(kind: .synAckRetransmit, monotonicNanoseconds: 6_000_000_000, owner: owner, segments: 1, cause: .synAck),
            ProbeEvent(kind: .congestionState, monotonicNanoseconds: 7_000_000_000, owner: owner),
            ProbeEvent(kind: .drop, monotonicNanoseconds: 8_000_000_000, dropReason: 12),
        ]
        for event in events {
            let text = line(event)
            XCTAssertTrue(text.hasSuffix("}\n"))
            let object = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            XCTAssertTrue(object["ts"] is NSNumber)
            XCTAssertTrue(object["event_type"] is String)
            XCTAssertTrue(object["entity_id"] is String)
            XCTAssertTrue(object["pid"] is NSNumber)
            XCTAssertTrue(object["value"] is String)
        }
    }

    /// An encoder keeps the text of addresses, commands, milliseconds and
    /// namespaces it wrote: lines must not depend on what it wrote before.
    func testRememberedTextNeverLeaksIntoAnotherLine() {
        var state: UInt64 = 7
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 33) % bound
        }
        let commands = [Command("torchrun"), Command("a\"b"), Command("tōrch"), Command(bytes: [0xff, 0x41]),
                        Command("0123456789abcde"), Command(""), Command("nginx: worker")]
        var reused = JSONLineWriter()
        for index in 0..<3000 {
            let remote = next(4) == 0
                ? IPAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 10) + [UInt8(next(256)), UInt8(next(256))])
                : IPAddress(ipv4: 10, UInt8(next(256)), UInt8(next(256)), UInt8(next(256)))
            let event = ProbeEvent(
                kind: next(2) == 0 ? .retransmit : .drop, monotonicNanoseconds: 5_000_000_000 + next(4) * 999_999,
                owner: SocketOwner(pid: 1024, tid: 1025, command: commands[Int(next(UInt64(commands.count)))], source: .socket),
                connection: Connection(family: remote.isIPv4Mapped ? .ipv4 : .ipv6, localAddress: IPAddress(ipv4: 10, 0, 0, UInt8(next(3))),
                                       localPort: 40000, remoteAddress: remote, remotePort: 29500, state: .established),
                socketCookie: UInt64(index), networkNamespace: 4026531840 + UInt32(next(3)), segments: 1)
            reused.removeAll()
            encoder.encode(event, into: &reused)
            var fresh = JSONLineWriter()
            EventLineEncoder(clock: clock, dropReasonNames: [12: "NETFILTER_DROP"]).encode(event, into: &fresh)
            XCTAssertEqual(String(decoding: reused.bytes, as: UTF8.self), String(decoding: fresh.bytes, as: UTF8.self))
        }
    }
}
