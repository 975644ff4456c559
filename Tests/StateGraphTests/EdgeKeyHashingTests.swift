import XCTest
import ProbeEvents
@testable import StateGraph

/// EdgeKey hashes itself for tables (`_rawHashValue`) without a Hasher;
/// the graph's table of emitted changes must still tell every edge apart.
final class EdgeKeyHashingTests: XCTestCase {
    typealias EdgeKey = StateGraph.EdgeKey

    func testEqualKeysHashAlike() {
        let peer = IPAddress(ipv4: 10, 0, 0, 1)
        XCTAssertEqual(EdgeKey(pid: 7, target: .peer(peer))._rawHashValue(seed: 5),
                       EdgeKey(pid: 7, target: .peer(IPAddress(ipv4: 10, 0, 0, 1)))._rawHashValue(seed: 5))
        XCTAssertNotEqual(EdgeKey(pid: 7, target: .network(pid: 7))._rawHashValue(seed: 5),
                          EdgeKey(pid: 7, target: .process(7))._rawHashValue(seed: 5))
    }

    func testDictionaryTellsEveryEdgeApartThroughGrowthAndRemoval() {
        var keys: [EdgeKey] = []
        for pid in UInt32(1)...200 {
            keys.append(EdgeKey(pid: pid, target: .network(pid: pid)))
            keys.append(EdgeKey(pid: pid, target: .process(pid)))
            keys.append(EdgeKey(pid: pid, target: .peer(IPAddress(ipv4: 10, 0, 0, UInt8(pid % 4)))))
            keys.append(EdgeKey(pid: pid, target: .connection(UInt64(pid % 3))))
        }
        var table: [EdgeKey: Int] = [:]
        for (value, key) in keys.enumerated() { table[key] = value }
        XCTAssertEqual(table.count, 800)
        for (value, key) in keys.enumerated() { XCTAssertEqual(table[key], value) }
        for key in keys where key.pid % 2 == 0 { table[key] = nil }
        XCTAssertEqual(table.count, 400)
        XCTAssertNil(table[EdgeKey(pid: 2, target: .network(pid: 2))])
        XCTAssertEqual(table[EdgeKey(pid: 3, target: .peer(IPAddress(ipv4: 10, 0, 0, 3)))], 10)
        XCTAssertEqual(table[EdgeKey(pid: 199, target: .connection(1))], 795)
    }
}
