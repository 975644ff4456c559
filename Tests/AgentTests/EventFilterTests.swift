import XCTest
@testable import Agent
import ProbeEvents

final class EventFilterTests: XCTestCase {
    func event(pid: UInt32, cgroup: UInt64 = 5, socketCgroup: UInt64 = 6, ports: (UInt16, UInt16) = (40000, 5001)) -> ProbeEvent {
        ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0,
                   owner: SocketOwner(pid: pid, cgroupID: cgroup, source: .socket),
                   connection: Connection(family: .ipv4, localPort: ports.0, remotePort: ports.1),
                   socketCgroupID: socketCgroup, segments: 1)
    }

    func testEmptyFilterAcceptsEverything() {
        XCTAssertTrue(EventFilter().acceptsEverything)
        XCTAssertTrue(EventFilter().accepts(event(pid: 0)))
    }

    func testFiltersByPidCgroupAndPort() {
        XCTAssertTrue(EventFilter(pids: [10]).accepts(event(pid: 10)))
        XCTAssertFalse(EventFilter(pids: [10]).accepts(event(pid: 11)))
        XCTAssertTrue(EventFilter(cgroupIDs: [5]).accepts(event(pid: 1)))
        XCTAssertTrue(EventFilter(cgroupIDs: [6]).accepts(event(pid: 1)))
        XCTAssertFalse(EventFilter(cgroupIDs: [7]).accepts(event(pid: 1)))
        XCTAssertTrue(EventFilter(ports: [5001]).accepts(event(pid: 1)))
        XCTAssertTrue(EventFilter(ports: [40000]).accepts(event(pid: 1)))
        XCTAssertFalse(EventFilter(ports: [22]).accepts(event(pid: 1)))
        XCTAssertFalse(EventFilter(pids: [1], ports: [22]).accepts(event(pid: 1)))
    }
}

final class ProcessTotalsTests: XCTestCase {
    func testSumsSentSegmentsSeparatelyFromFailedOnes() {
        var totals = ProcessTotals()
        let owner = SocketOwner(pid: 7, command: Command("trainer"), source: .socket)
        totals.add(ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0, owner: owner, segments: 3, cause: .rto))
        totals.add(ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0, owner: owner, segments: 2, cause: .fastRetransmit))
        totals.add(ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0, owner: owner, segments: 5, error: -16))
        totals.add(ProbeEvent(kind: .synAckRetransmit, monotonicNanoseconds: 0, owner: owner, segments: 1, cause: .synAck))
        totals.add(ProbeEvent(kind: .drop, monotonicNanoseconds: 0, owner: owner))
        totals.add(ProbeEvent(kind: .congestionState, monotonicNanoseconds: 0, owner: owner))
        XCTAssertEqual(totals.sorted, [ProcessTotals.Entry(
            pid: 7, command: Command("trainer"), retransmittedSegments: 6, retransmitEvents: 3,
            failedSegments: 5, rtoEvents: 1, kernelDrops: 1)])
    }

    func testIsBoundedAndCountsWhatDidNotFit() {
        var totals = ProcessTotals()
        for pid in 1...UInt32(ProcessTotals.maximumProcesses + 10) {
            totals.add(ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0, owner: SocketOwner(pid: pid), segments: 1))
        }
        XCTAssertEqual(totals.entries.count, ProcessTotals.maximumProcesses)
        XCTAssertEqual(totals.overflowEvents, 10)
        XCTAssertEqual(totals.entries[1]?.retransmitEvents, 1)
        XCTAssertEqual(totals.entries[UInt32(ProcessTotals.maximumProcesses)]?.pid, UInt32(ProcessTotals.maximumProcesses))
        XCTAssertNil(totals.entries[UInt32(ProcessTotals.maximumProcesses + 1)])
    }

    func testProcessKeysHashAlikeWhenEqualAndApartWhenNot() {
        XCTAssertEqual(ProcessKey(pid: 7)._rawHashValue(seed: 3), tableHash(7, seed: 3))
        XCTAssertNotEqual(ProcessKey(pid: 7)._rawHashValue(seed: 3), ProcessKey(pid: 8)._rawHashValue(seed: 3))
        let keys = (0..<5000).map { ProcessKey(pid: UInt32($0)) }
        XCTAssertEqual(Set(keys).count, 5000)
        XCTAssertTrue(Set(keys).contains(ProcessKey(pid: 4999)))
        XCTAssertFalse(Set(keys).contains(ProcessKey(pid: 5000)))
    }
}

final class LineOutputTests: XCTestCase {
    func testAClosedReaderIsReportedAsClosedNotAsAnError() throws {
        signal(SIGPIPE, SIG_IGN)
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        close(descriptors[0])
        let path = "/proc/self/fd/\(descriptors[1])"
        let output = try LineOutput(appendingTo: path)
        close(descriptors[1])
        XCTAssertThrowsError(try output.write(Array("{}\n".utf8))) { error in
            XCTAssertEqual(error as? LineOutput.Failure, .closed)
        }
    }

    func testAppendsToAFileAndNamesAMissingDirectory() throws {
        let path = "/tmp/ark-probe-output-\(getpid()).jsonl"
        defer { unlink(path) }
        try LineOutput(appendingTo: path).write(Array("a\n".utf8))
        try LineOutput(appendingTo: path).write(Array("b\n".utf8))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "a\nb\n")
        XCTAssertThrowsError(try LineOutput(appendingTo: "/nonexistent-dir/x.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent-dir/x.jsonl"))
        }
    }
}
