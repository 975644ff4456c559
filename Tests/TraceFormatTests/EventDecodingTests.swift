import ProbeEvents
import XCTest
@testable import TraceFormat

final class EventDecodingTests: XCTestCase {
    func event(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ProbeEvent? {
        switch decodeLine(text) {
        case .success(.event(let event, _)): return event
        case .success(let other): XCTFail("not an event: \(other)", file: file, line: line)
        case .failure(let error): XCTFail("\(error.message) in \(text)", file: file, line: line)
        }
        return nil
    }

    func testTheSeedsMinimalLineDecodesWithDefaults() {
        let line = #"{"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024","pid":1024,"value":"1"}"#
        XCTAssertEqual(event(line), ProbeEvent(
            kind: .retransmit, monotonicNanoseconds: 1_710_000_000_000_000_000,
            owner: SocketOwner(pid: 1024), segments: 1))
    }

    func testAFullRetransmitLine() {
        let line = #"""
            {"ts":1710000000000,"event_type":"transport.retransmit_failed","entity_id":"network-pid-1024","pid":1024,\#
            "value":"4","tid":1025,"comm":"torch\u00ffrun\u00e9\u0001é","uid":1000,"cgroup_id":7,"attribution":"existing-socket",\#
            "family":"ipv6","saddr":"2001:db8::1","sport":40000,"daddr":"::ffff:10.0.0.2","dport":29500,\#
            "tcp_state":"SYN_SENT","cause":"fast","ca_state":"recovery","backoff":3,"srtt_us":1500,"rto_us":201500,\#
            "packets_out":7,"error":"EBUSY","errno":16,\#
            "socket_cookie":18446744073709551615,"socket_cgroup_id":9,"netns":4026531840,"ktime_ns":5000000000}
            """#
        let comm: [UInt8] = Array("torch".utf8) + [0xFF] + Array("run".utf8) + [0xE9, 0x01, 0xC3, 0xA9]
        XCTAssertEqual(event(line), ProbeEvent(
            kind: .retransmit, monotonicNanoseconds: 5_000_000_000,
            owner: SocketOwner(pid: 1024, tid: 1025, uid: 1000, cgroupID: 7, command: rawCommand(comm), source: .existingSocket),
            connection: Connection(family: .ipv6, localAddress: IPAddress(text: "2001:db8::1")!, localPort: 40000,
                                   remoteAddress: IPAddress(ipv4: 10, 0, 0, 2), remotePort: 29500, state: .synSent),
            socketCookie: .max, networkNamespace: 4026531840, socketCgroupID: 9, segments: 4, error: -16,
            cause: .fastRetransmit, congestionState: .recovery, backoff: 3, timing: (1500, 201_500, 7)))
    }

    func testSynAckCauseMeansASynAckRetransmit() {
        let line = #"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":0,"value":"1","cause":"synack","ktime_ns":1}"#
        XCTAssertEqual(event(line)?.kind, .synAckRetransmit)
    }

    func testCongestionDropAndExitLines() {
        let congestion = #"{"ts":1,"event_type":"transport.congestion","entity_id":"e","pid":5,"value":"cwr","previous_ca_state":"loss","backoff":2,"ktime_ns":7}"#
        XCTAssertEqual(event(congestion), ProbeEvent(kind: .congestionState, monotonicNanoseconds: 7, owner: SocketOwner(pid: 5),
                                                     congestionState: .cwr, previousCongestionState: .loss, backoff: 2))
        let drop = #"{"ts":1,"event_type":"transport.kernel_drop","entity_id":"e","pid":0,"value":"1","reason":"X","reason_code":12,"ktime_ns":8}"#
        XCTAssertEqual(event(drop), ProbeEvent(kind: .drop, monotonicNanoseconds: 8, dropReason: 12))
        let exit = #"{"ts":1,"event_type":"process.exit","entity_id":"process-pid-9","pid":9,"value":"1","comm":"sh","cgroup_id":3,"exit_code":256,"ktime_ns":9}"#
        XCTAssertEqual(event(exit), ProbeEvent(kind: .processExit, monotonicNanoseconds: 9,
                                               owner: SocketOwner(pid: 9, cgroupID: 3, command: Command("sh")), dropReason: 256))
    }

    func testIntegersMayBeSpelledAnyExactWay() {
        let line = #"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1.024e3,"value":"1","ktime_ns":5000.0}"#
        XCTAssertEqual(event(line)?.owner.pid, 1024)
        XCTAssertEqual(event(line)?.monotonicNanoseconds, 5000)
    }

    func testStartLine() {
        let line = #"""
            {"ts":1710000000000,"event_type":"probe.started","entity_id":"probe-node1","pid":77,"value":"tp_btf",\#
            "host":"node1","kernel":"6.18.0","attribution":"socket-owner","reports_failed_retransmits":true,\#
            "hooks":"a -> tp_btf/x; b -> iter/task_file (ran once)","clock_offset_ns":-5}
            """#
        guard case .success(.started(let start, line: 1)) = decodeLine(line) else { return XCTFail("\(decodeLine(line))") }
        XCTAssertEqual(start, StartInfo(
            wallMilliseconds: 1_710_000_000_000, host: "node1", kernel: "6.18.0", attachMode: "tp_btf",
            clockOffsetNanoseconds: -5, attribution: "socket-owner",
            hooks: ["a -> tp_btf/x", "b -> iter/task_file (ran once)"], reportsFailedRetransmits: true))
        XCTAssertEqual(start.clock, WallClock(offsetNanoseconds: -5))
    }

    func testOtherLinesPassThroughByteForByte() {
        for line in [
            #"{"ts":1,"event_type":"graph.edge_added","entity_id":"network-pid-1","pid":1,"value":"waits_on","retransmit_rate":0.5}"#,
            #"{"event_type":"alert"   ,  "x":[1,{"y":"\u00e9"}]}"#,
            #"{"ts":"not checked","event_type":"some.future_type"}"#,
        ] {
            guard case .success(.passthrough(let type, let bytes, line: 1)) = decodeLine(line) else {
                XCTFail("\(decodeLine(line))")
                continue
            }
            XCTAssertEqual(bytes, Array(line.utf8))
            XCTAssertTrue(line.contains("\"\(type)\""))
        }
    }

    /// Where an error should point.
    enum Column {
        case at(Int)
        /// At the value of this key.
        case value(String)
        case none
    }

    func testAnIdentityLineReadsBackAsTheIdentityItWasWrittenFrom() throws {
        let text = #"{"ts":1,"event_type":"process.identity","entity_id":"process-pid-5","pid":5,"value":"slurm:81234","comm":"python3","#
            + #""job":"slurm:81234","rank":3,"world_size":8,"cgroup_path":"/system.slice/slurmstepd.scope/job_81234/step_0/user/task_3","ktime_ns":9}"#
        guard case .success(.identity(let process, line: 1)) = decodeLine(text) else { return XCTFail("not an identity line") }
        XCTAssertEqual(process.pid, 5)
        XCTAssertEqual(process.command.description, "python3")
        XCTAssertEqual(process.identity.job?.description, "slurm:81234")
        XCTAssertEqual(process.identity.launcher.rank, 3)
        XCTAssertEqual(process.identity.cgroup.slurmStep, "0")
        XCTAssertEqual(String(decoding: process.identity.encodedIdentityFields, as: UTF8.self),
                       #","job":"slurm:81234","rank":3,"world_size":8,"slurm_job":81234,"slurm_step":"0","#
                       + #""systemd_unit":"slurmstepd.scope","cgroup_path":"/system.slice/slurmstepd.scope/job_81234/step_0/user/task_3""#)
    }

    func testBadLinesNameTheKeyAndWhatItMustBe() {
        let base = #""ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1""#
        func line(_ tail: String) -> String { "{" + base + tail + "}" }
        let table: [(String, Column, String)] = [
            (line(#","srtt_us":-1"#), .value("srtt_us"), "got -1"),
            (line(#","rto_us":"200ms""#), .value("rto_us"), "\"rto_us\" must be a number, got a string"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":"1024","value":"1"}"#, .value("pid"), "\"pid\" must be a number, got a string"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","value":"1"}"#, .none, "missing key \"pid\" (a number)"),
            (#"{"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, .none, "missing key \"ts\" (a number)"),
            (#"{"ts":1,"entity_id":"e","pid":1,"value":"1"}"#, .none, "missing key \"event_type\" (a string)"),
            (#"{"ts":1,"event_type":7,"entity_id":"e","pid":1,"value":"1"}"#, .value("event_type"), "\"event_type\" must be a string, got a number"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":null,"pid":1,"value":"1"}"#, .value("entity_id"), "\"entity_id\" must be a string, got null"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":1}"#, .value("value"), "\"value\" must be a string, got a number"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1.5,"value":"1"}"#, .value("pid"), "\"pid\" must be an integer from 0 to 4294967295, got 1.5"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":-1,"value":"1"}"#, .value("pid"), "got -1"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":4294967296,"value":"1"}"#, .value("pid"), "got 4294967296"),
            (#"{"ts":[],"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, .value("ts"), "\"ts\" must be a number, got an array"),
            (#"{"ts":18446744073709552,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#, .value("ts"), "\"ts\" is too large to be read as nanoseconds"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"x1"}"#, .value("value"), "\"value\" must be a count of segments (a decimal string from 0 to 4294967295), got \"x1\""),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"01"}"#, .value("value"), "count of segments"),
            (#"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"4294967296"}"#, .value("value"), "count of segments"),
            (#"{"ts":1,"event_type":"transport.congestion","entity_id":"e","pid":1,"value":"1"}"#, .value("value"), "\"value\" must be one of open, disorder, cwr, recovery, loss; got \"1\""),
            (line(#","cause":"bogus""#), .value("cause"), "\"cause\" must be one of unknown, rto, fast, tlp, syn, synack, other; got \"bogus\""),
            (line(#","attribution":"me""#), .value("attribution"), "\"attribution\" must be one of none, socket, existing-socket, current-task"),
            (line(#","family":"ipv5""#), .value("family"), "\"family\" must be one of unspec, ipv4, ipv6"),
            (line(#","tcp_state":"established""#), .value("tcp_state"), "\"tcp_state\" must be one of UNKNOWN, ESTABLISHED"),
            (line(#","saddr":"10.0.0""#), .value("saddr"), "\"saddr\" must be an IPv4 or IPv6 address, got \"10.0.0\""),
            (line(#","daddr":1"#), .value("daddr"), "\"daddr\" must be a string, got a number"),
            (line(#","sport":65536"#), .value("sport"), "\"sport\" must be an integer from 0 to 65535, got 65536"),
            (line(#","backoff":256"#), .value("backoff"), "\"backoff\" must be an integer from 0 to 255"),
            (line(#","comm":"0123456789abcdef""#), .value("comm"), "\"comm\" must be at most 15 bytes (a kernel comm), got 16"),
            (line(#","comm":"a\u0000b""#), .value("comm"), "\"comm\" must not contain NUL"),
            (line(#","comm":true"#), .value("comm"), "\"comm\" must be a string, got a boolean"),
            (#"{"ts":1,"event_type":"transport.retransmit_failed","entity_id":"e","pid":1,"value":"1"}"#, .none, "missing key \"errno\" (a number)"),
            (#"{"ts":1,"event_type":"transport.retransmit_failed","entity_id":"e","pid":1,"value":"1","errno":0}"#, .value("errno"), "\"errno\" must be a nonzero number from -2147483647 to 2147483647"),
            (#"{"ts":1,"event_type":"transport.retransmit_failed","entity_id":"e","pid":1,"value":"1","errno":-2147483648}"#, .value("errno"), "\"errno\" must be a nonzero number"),
            (#"{"ts":1,"event_type":"probe.started","entity_id":"e","pid":1,"value":"tp_btf"}"#, .none, "missing key \"clock_offset_ns\" (a number)"),
            (#"{"ts":1,"event_type":"probe.started","entity_id":"e","pid":1,"value":"x","clock_offset_ns":0,"reports_failed_retransmits":1}"#, .value("reports_failed_retransmits"), "\"reports_failed_retransmits\" must be true or false, got a number"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":0,"value":"","ktime_ns":1}"#, .value("pid"), "\"pid\" must be a process id, not 0"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"rank":"0"}"#, .value("rank"), "\"rank\" must be a number, got a string"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"rank":-1}"#, .value("rank"), "got -1"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"cgroup_path":"kubepods"}"#, .value("cgroup_path"), "\"cgroup_path\" is not a cgroup path: a cgroup path starts with '/'"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"cgroup_path":"/a//b"}"#, .value("cgroup_path"), "an empty component ('//') at byte 3"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"rank":4294967296}"#, .value("rank"), "\"rank\" must be an integer from 0 to 4294967295"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":"","ktime_ns":1,"job":1}"#, .value("job"), "\"job\" must be a string, got a number"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":""}"#, .none, "missing key \"ktime_ns\" (a number)"),
            (#"{"ts":1,"event_type":"process.identity","entity_id":"e","pid":5,"value":7}"#, .value("value"), "\"value\" must be a string, got a number"),
            ("[1,2]", .at(1), "expected a JSON object, got an array"),
            ("  \"x\"", .at(3), "expected a JSON object, got a string"),
            ("", .none, "blank line (expected a JSON object)"),
            (" \t\r", .none, "blank line"),
            ("{\"event_type\":\"alert\",}", .at(23), "expected a string key after ','"),
            ("{\"event_type\":\"a\u{7F}\",\"x\":\"\u{1}\"}", .at(25), "control character U+0001"),
        ]
        for (text, column, fragment) in table {
            let expectedColumn: Int? = switch column {
            case .at(let number): number
            case .value(let key): TraceFormatTests.column(after: "\"\(key)\":", in: text)
            case .none: nil
            }
            switch decodeLine(text) {
            case .success(let entry):
                XCTFail("\(text) decoded as \(entry)")
            case .failure(let error):
                XCTAssertEqual(error.column, expectedColumn, "\(text): \(error.message)")
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message) lacks \(fragment)")
            }
        }
    }

    func testATruncatedLastLineSaysSo() {
        let text = #"{"ts":1,"event_type":"transport.drop","entity_id":"e","#
        guard case .failure(let error) = decodeLine(Array(text.utf8), terminated: false) else { return XCTFail() }
        XCTAssertEqual(error.column, text.utf8.count + 1)
        XCTAssertEqual(error.message, "last line is truncated (no newline at the end of the file): expected a string key after ',', got the end of the input")
        // Complete JSON without a newline is fine.
        let complete = #"{"ts":1,"event_type":"alert"}"#
        guard case .success = decodeLine(Array(complete.utf8), terminated: false) else { return XCTFail() }
    }

    func testTimeMustNotGoBackwardsUntilTheNextRun() {
        var decoder = TraceLineDecoder()
        func decode(_ text: String, _ number: Int) -> Result<TraceEntry, LineError> {
            Array(text.utf8).withUnsafeBytes { buffer in
                Result { () throws(LineError) in try decoder.entry(buffer, line: number, terminated: true) }
            }
        }
        let event = { (ktime: Int) in #"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","ktime_ns":\#(ktime)}"# }
        let start = #"{"ts":1,"event_type":"probe.started","entity_id":"e","pid":1,"value":"x","clock_offset_ns":0}"#
        XCTAssertNoThrow(try decode(event(6000), 1).get())
        XCTAssertNoThrow(try decode(event(6000), 2).get(), "equal times are in order")
        guard case .failure(let error) = decode(event(5000), 3) else { return XCTFail() }
        XCTAssertEqual(error.message, "time goes backwards: ktime_ns 5000 is smaller than the previous event's 6000 (line 2)")
        XCTAssertEqual(error.column, column(after: "\"ktime_ns\":", in: event(5000)))
        XCTAssertNoThrow(try decode(event(7000), 4).get(), "compared with the last accepted event")
        XCTAssertNoThrow(try decode(start, 5).get())
        XCTAssertNoThrow(try decode(event(10), 6).get(), "a new run starts its own clock")
        let fromTS = #"{"ts":0,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1"}"#
        guard case .failure(let derived) = decode(fromTS, 7) else { return XCTFail() }
        XCTAssertEqual(derived.message, "time goes backwards: ts × 1000000 0 is smaller than the previous event's 10 (line 6)")
        XCTAssertEqual(derived.column, 7)
    }

    func testSmallReorderingsAreReadAndCounted() {
        var decoder = TraceLineDecoder()
        decoder.reorderTolerance = 1_000
        func decode(_ ktime: Int, _ number: Int) -> Result<TraceEntry, LineError> {
            let text = #"{"ts":1,"event_type":"transport.drop","entity_id":"e","pid":1,"value":"1","ktime_ns":\#(ktime)}"#
            return Array(text.utf8).withUnsafeBytes { buffer in
                Result { () throws(LineError) in try decoder.entry(buffer, line: number, terminated: true) }
            }
        }
        XCTAssertNoThrow(try decode(10_000, 1).get())
        XCTAssertNoThrow(try decode(9_000, 2).get(), "1 µs earlier: within the tolerance")
        XCTAssertEqual(decoder.reorderedEvents, 1)
        guard case .failure(let error) = decode(8_999, 3) else { return XCTFail("compared with the latest, 10000") }
        XCTAssertEqual(error.message, "time goes backwards: ktime_ns 8999 is smaller than the previous event's 10000 (line 1)")
    }
}

extension ProbeEvent {
    /// An event with its socket timing (srtt, rto in µs, packets in flight) set.
    init(kind: Kind, monotonicNanoseconds: UInt64, owner: SocketOwner, connection: Connection,
         socketCookie: UInt64, networkNamespace: UInt32, socketCgroupID: UInt64, segments: UInt32, error: Int32,
         cause: RetransmitCause, congestionState: CongestionState, backoff: UInt8, timing: (UInt32, UInt32, UInt8)) {
        self.init(kind: kind, monotonicNanoseconds: monotonicNanoseconds, owner: owner, connection: connection,
                  socketCookie: socketCookie, networkNamespace: networkNamespace, socketCgroupID: socketCgroupID,
                  segments: segments, error: error, cause: cause, congestionState: congestionState, backoff: backoff)
        smoothedRTTMicroseconds = timing.0
        retransmitTimeoutMicroseconds = timing.1
        packetsOut = timing.2
    }
}
