import XCTest
@testable import StateGraph

/// UInt64Set must behave as Set<UInt64> does, whatever the order of
/// insertions and removals, through growth and around slot 0.
final class UInt64SetTests: XCTestCase {
    func testEmpty() {
        let set = UInt64Set()
        XCTAssertTrue(set.isEmpty)
        XCTAssertEqual(set.count, 0)
        XCTAssertFalse(set.contains(0))
        XCTAssertFalse(set.contains(42))
        XCTAssertEqual(Array(set), [])
    }

    func testInsertAndRemoveSayWhetherTheyChangedTheSet() {
        var set = UInt64Set()
        XCTAssertTrue(set.insert(7))
        XCTAssertFalse(set.insert(7))
        XCTAssertTrue(set.insert(0))
        XCTAssertFalse(set.insert(0))
        XCTAssertEqual(set.count, 2)
        XCTAssertEqual(Set(set), [0, 7])
        XCTAssertFalse(set.remove(8))
        XCTAssertTrue(set.remove(7))
        XCTAssertFalse(set.remove(7))
        XCTAssertTrue(set.remove(0))
        XCTAssertFalse(set.remove(0))
        XCTAssertTrue(set.isEmpty)
    }

    func testGrowthKeepsEveryKey() {
        var set = UInt64Set()
        let keys = (1...1000).map { UInt64($0) * 40_003 }
        for key in keys { XCTAssertTrue(set.insert(key)) }
        XCTAssertEqual(set.count, keys.count)
        XCTAssertEqual(Set(set), Set(keys))
        for key in keys { XCTAssertTrue(set.contains(key)) }
        XCTAssertFalse(set.contains(1))
    }

    /// Keys that share their home slot (equal top bits of the product)
    /// make long probe runs: removal must keep the rest of a run findable.
    func testRemovalInsideProbeRuns() {
        var set = UInt64Set()
        var reference = Set<UInt64>()
        // Multiples of 2^61 collide in a table of 8 slots.
        let colliding = (1...5).map { UInt64($0) << 61 | 1 }
        for key in colliding {
            set.insert(key)
            reference.insert(key)
        }
        for key in [colliding[1], colliding[3], colliding[0]] {
            XCTAssertEqual(set.remove(key), reference.remove(key) != nil)
            for other in colliding { XCTAssertEqual(set.contains(other), reference.contains(other), "\(other)") }
        }
        XCTAssertEqual(Set(set), reference)
    }

    /// Random operations on a small key space, checked against Set<UInt64>
    /// after each step.
    func testRandomOperationsMatchSet() {
        var seed: UInt64 = 0x1234_5678
        func nextKey() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // 300 keys, 0 among them, and 300 sequential ones like cookies.
            return (seed >> 33) % 300 + (seed >> 60 & 1) * 40_000
        }
        var set = UInt64Set()
        var reference = Set<UInt64>()
        for step in 0..<20_000 {
            let key = nextKey()
            if step % 3 == 0 {
                XCTAssertEqual(set.remove(key), reference.remove(key) != nil, "remove \(key) at \(step)")
            } else {
                XCTAssertEqual(set.insert(key), reference.insert(key).inserted, "insert \(key) at \(step)")
            }
            XCTAssertEqual(set.count, reference.count)
            XCTAssertEqual(set.contains(key), reference.contains(key))
        }
        XCTAssertEqual(Set(set), reference)
        XCTAssertEqual(Array(set).count, reference.count, "each key once")
        for key in reference { XCTAssertTrue(set.remove(key)) }
        XCTAssertTrue(set.isEmpty)
        XCTAssertEqual(Array(set), [])
    }

    /// The first two keys live inline; a third moves them into the table.
    func testInlineKeysThroughRemovalAndSpill() {
        var set = UInt64Set()
        XCTAssertTrue(set.insert(5))
        XCTAssertTrue(set.insert(9))
        XCTAssertFalse(set.insert(9))
        XCTAssertTrue(set.remove(5))
        XCTAssertFalse(set.contains(5))
        XCTAssertTrue(set.insert(11))
        XCTAssertEqual(Array(set), [11, 9])
        XCTAssertTrue(set.insert(0))
        XCTAssertTrue(set.insert(13))
        XCTAssertEqual(set.count, 4)
        XCTAssertEqual(Set(set), [0, 9, 11, 13])
        for key: UInt64 in [0, 9, 11, 13] { XCTAssertTrue(set.contains(key)) }
        XCTAssertFalse(set.contains(5))
        XCTAssertTrue(set.remove(9))
        XCTAssertTrue(set.remove(11))
        XCTAssertEqual(Set(set), [0, 13])
        XCTAssertEqual(set.count, 2)
    }
}
