import XCTest
import ProbeEvents
@testable import RuleEngine

/// AlertEntity hashes itself for tables (`_rawHashValue`) without a Hasher
/// for its number cases; tables keyed by it must still tell every entity apart.
final class AlertEntityHashingTests: XCTestCase {
    func testEqualEntitiesHashAlike() {
        let seed = 12_345
        XCTAssertEqual(AlertEntity.network(pid: 7)._rawHashValue(seed: seed), AlertEntity.network(pid: 7)._rawHashValue(seed: seed))
        XCTAssertEqual(AlertEntity.job("run:1")._rawHashValue(seed: seed), AlertEntity.job("run:1")._rawHashValue(seed: seed))
        XCTAssertEqual(AlertEntity.kernelDrops(netns: 1, reason: "NO_SOCKET")._rawHashValue(seed: seed),
                       AlertEntity.kernelDrops(netns: 1, reason: "NO_SOCKET")._rawHashValue(seed: seed))
        // The same number in different cases is a different word.
        XCTAssertNotEqual(AlertEntity.network(pid: 7)._rawHashValue(seed: seed), AlertEntity.process(7)._rawHashValue(seed: seed))
    }

    func testDictionaryTellsEveryCaseApartThroughGrowthAndRemoval() {
        var entities: [AlertEntity] = []
        for number in 0..<100 {
            entities.append(.network(pid: UInt32(number)))
            entities.append(.networkNamespace(UInt32(number)))
            entities.append(.process(UInt32(number)))
            entities.append(.peer(IPAddress(ipv4: 10, 0, 0, UInt8(number))))
            entities.append(.connection(UInt64(number)))
            entities.append(.kernelDrops(netns: UInt32(number), reason: "NO_SOCKET"))
            entities.append(.job("run:\(number)"))
        }
        var table: [AlertEntity: Int] = [:]
        for (value, entity) in entities.enumerated() { table[entity] = value }
        XCTAssertEqual(table.count, 700)
        for (value, entity) in entities.enumerated() { XCTAssertEqual(table[entity], value, "\(entity)") }
        for entity in entities where entity.description.hasPrefix("network-pid-") { table[entity] = nil }
        XCTAssertEqual(table.count, 600)
        XCTAssertNil(table[.network(pid: 3)])
        XCTAssertEqual(table[.process(3)], 23)
        XCTAssertEqual(table[.job("run:99")], 699)
        XCTAssertEqual(Set(entities).count, 700)
    }
}
