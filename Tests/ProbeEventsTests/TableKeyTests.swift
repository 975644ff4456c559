import XCTest
import ProbeEvents

/// Pid and cookie keys hash with `tableHash`; tables keyed by them are
/// read through the bare pid or cookie.
final class TableKeyTests: XCTestCase {
    func testKeysHashTheirWordWithTableHash() {
        XCTAssertEqual(ProcessKey(pid: 42)._rawHashValue(seed: 7), -6_018_990_459_996_986_047)
        XCTAssertEqual(ConnectionKey(cookie: 42)._rawHashValue(seed: 7), -6_018_990_459_996_986_047)
        XCTAssertEqual(ConnectionKey(cookie: 1)._rawHashValue(seed: 0), -5_451_962_507_482_445_012)
    }

    func testKeysOrderByTheirWord() {
        XCTAssertEqual([ProcessKey(pid: 9), ProcessKey(pid: 2)].sorted().map(\.pid), [2, 9])
        XCTAssertEqual([ConnectionKey(cookie: 1 << 63), ConnectionKey(cookie: 5)].sorted().map(\.cookie), [5, 1 << 63])
    }

    func testTablesAreReadAndWrittenThroughTheBareWord() {
        var processes: [ProcessKey: String] = [:]
        for pid in 0..<5000 as Range<UInt32> { processes[pid] = "p\(pid)" }
        XCTAssertEqual(processes.count, 5000)
        XCTAssertEqual(processes[4999], "p4999")
        XCTAssertNil(processes[5000])
        XCTAssertEqual(processes.index(forKey: 7).map { processes.values[$0] }, "p7")
        processes[7] = nil
        XCTAssertNil(processes.index(forKey: 7))

        var connections: [ConnectionKey: Int] = [:]
        let cookies: [UInt64] = [0, 1, 1 << 63, .max]
        for (value, cookie) in cookies.enumerated() { connections[cookie] = value }
        for (value, cookie) in cookies.enumerated() { XCTAssertEqual(connections[cookie], value) }
        XCTAssertEqual(connections.index(forKey: 1 << 63).map { connections.values[$0] }, 2)
        XCTAssertNil(connections[2])
    }
}
