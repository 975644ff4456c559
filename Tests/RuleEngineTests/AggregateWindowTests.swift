import XCTest
@testable import RuleEngine
@testable import RuleLanguage

final class AggregateWindowTests: XCTestCase {
    func window(_ function: AggregateFunction, seconds: Double = 5) -> AggregateWindow {
        AggregateWindow(AggregateSpec(function: function, windowSeconds: seconds, input: .field("segments"),
                                      description: "\(function.rawValue)(segments, \(seconds)s)"))
    }

    /// `values` added at `times` (ms), then the value at `at` (ms).
    func value(_ function: AggregateFunction, _ points: [(ms: UInt64, value: Double)], at time: UInt64,
               seconds: Double = 5) -> Double {
        var aggregate = window(function, seconds: seconds)
        for point in points { aggregate.add(point.value, at: ms(point.ms)) }
        return aggregate.value(at: ms(time))
    }

    func testEachFunctionOverOneWindow() {
        let points: [(ms: UInt64, value: Double)] = [(1000, 2), (1100, 7), (3000, 4), (4900, -1)]
        let table: [(AggregateFunction, Double)] = [
            (.count, 4), (.sum, 12), (.rate, 2.4), (.max, 7), (.min, -1), (.avg, 3),
        ]
        for (function, expected) in table {
            XCTAssertEqual(value(function, points, at: 5000), expected, "\(function)")
        }
    }

    func testEmptyWindowIsZeroForCountSumRateAndNaNForTheOthers() {
        for function in [AggregateFunction.count, .sum, .rate] {
            XCTAssertEqual(value(function, [], at: 5000), 0, "\(function)")
        }
        for function in [AggregateFunction.max, .min, .avg] {
            XCTAssertTrue(value(function, [], at: 5000).isNaN, "\(function) over no events is NaN (missing)")
        }
        var empty = window(.max)
        XCTAssertTrue(empty.isEmpty(at: ms(1000)))
        empty.add(3, at: ms(1000))
        XCTAssertFalse(empty.isEmpty(at: ms(1000)))
        XCTAssertTrue(empty.isEmpty(at: ms(6000)), "the event left the window")
    }

    func testMaxAndMinOfNegativeValuesAndAvgOfOne() {
        XCTAssertEqual(value(.max, [(1000, -3), (1200, -1.5)], at: 2000), -1.5)
        XCTAssertEqual(value(.min, [(1000, 3), (1200, 1.5)], at: 2000), 1.5)
        XCTAssertEqual(value(.avg, [(1000, 2.5)], at: 2000), 2.5)
    }

    /// A 5 s window is 20 buckets of 250 ms: an event counts until the
    /// bucket it fell in is 20 buckets old.
    func testEventsLeaveTheWindowAtTheBucketEdge() {
        let s = secondNanoseconds
        var count = window(.count)
        XCTAssertEqual(count.windowSeconds, 5)
        XCTAssertEqual(count.bucketNanoseconds, 250_000_000)
        count.add(1, at: 1 * s)           // bucket [1.0, 1.25)
        count.add(1, at: ms(1249))        // same bucket
        count.add(1, at: 3 * s)           // bucket [3.0, 3.25)
        let table: [(UInt64, Double)] = [
            (3 * s, 3), (6 * s - 1, 3), (6 * s, 1), (8 * s - 1, 1), (8 * s, 0), (100 * s, 0),
        ]
        for (time, expected) in table {
            XCTAssertEqual(count.value(at: time), expected, "count at \(time) ns")
        }
    }

    func testSumMaxMinAtTheEdges() {
        let s = secondNanoseconds
        let points: [(ms: UInt64, value: Double)] = [(1000, 9), (2000, 1), (2500, 4)]
        let table: [(AggregateFunction, UInt64, Double)] = [
            (.sum, 6 * s - 1, 14), (.sum, 6 * s, 5), (.sum, 7 * s - 1, 5), (.sum, 7 * s, 4), (.sum, 7_500_000_000, 0),
            (.max, 6 * s - 1, 9), (.max, 6 * s, 4),
            (.min, 7 * s - 1, 1), (.min, 7 * s, 4),
            (.avg, 6 * s, 2.5), (.rate, 6 * s - 1, 2.8), (.rate, 6 * s, 1),
        ]
        for (function, time, expected) in table {
            var aggregate = window(function)
            for point in points { aggregate.add(point.value, at: ms(point.ms)) }
            XCTAssertEqual(aggregate.value(at: time), expected, "\(function) at \(time) ns")
        }
        var emptied = window(.max)
        for point in points { emptied.add(point.value, at: ms(point.ms)) }
        XCTAssertTrue(emptied.value(at: 7_500_000_000).isNaN, "max of an emptied window is missing again")
    }

    func testOutOfOrderEventsOlderThanTheWindowAreNotCounted() {
        var count = window(.count)
        count.add(1, at: ms(10_000))       // newest bucket: [10.0, 10.25)
        count.add(1, at: ms(4_999))        // 21 buckets back: outside
        count.add(1, at: ms(5_000))        // 20 buckets back: outside
        XCTAssertEqual(count.value(at: ms(10_000)), 1)
        count.add(1, at: ms(5_250))        // 19 buckets back: the oldest bucket still inside
        count.add(1, at: ms(9_000))        // late, but inside
        XCTAssertEqual(count.value(at: ms(10_000)), 3)
        XCTAssertEqual(count.value(at: ms(10_249)), 3)
        XCTAssertEqual(count.value(at: ms(10_250)), 2, "the late 5.25 s event leaves with its bucket")
    }

    func testAJumpLongerThanTheWindowClearsEverything() {
        let s = secondNanoseconds
        var sum = window(.sum)
        for step in 0..<20 as Range<UInt64> { sum.add(1, at: s + step * 250_000_000) }
        XCTAssertEqual(sum.value(at: 6 * s - 1), 20, "all 20 buckets filled")
        XCTAssertEqual(sum.value(at: 1_000 * s), 0)
        sum.add(5, at: 1_000 * s)
        XCTAssertEqual(sum.value(at: 1_000 * s), 5, "nothing left over from before the jump")
        XCTAssertEqual(sum.value(at: 1_005 * s - 1), 5)
        XCTAssertEqual(sum.value(at: 1_005 * s), 0)
    }

    func testAJumpOfExactlyTheWindowAfterLongUse() {
        // Wrap the ring several times, one event per bucket.
        var count = window(.count)
        for step in 0...120 as ClosedRange<UInt64> {
            count.add(1, at: step * 250_000_000)
            XCTAssertEqual(count.value(at: step * 250_000_000), Double(min(step + 1, 20)), "step \(step)")
        }
        // Newest bucket is 120 (30.0 s); a jump of 19 buckets keeps one.
        XCTAssertEqual(count.value(at: ms(34_750)), 1)
        XCTAssertEqual(count.value(at: ms(35_000)), 0)
    }

    func testRateDividesByTheWholeWindow() {
        XCTAssertEqual(value(.rate, [(1000, 10)], at: 1000, seconds: 10), 1)
        XCTAssertEqual(value(.rate, [(1000, 3), (1500, 3)], at: 1999, seconds: 1), 6)
        XCTAssertEqual(value(.rate, [(1000, 3), (1500, 3)], at: 2000, seconds: 1), 3)
        var one = window(.rate, seconds: 1)
        XCTAssertEqual(one.bucketNanoseconds, 50_000_000)
        one.add(4, at: ms(1000))
        XCTAssertEqual(one.value(at: ms(1999)), 4)
        XCTAssertEqual(one.value(at: ms(2000)), 0)
    }

    func testLongWindowsUseLongBuckets() {
        var hour = window(.count, seconds: 3600)
        XCTAssertEqual(hour.bucketNanoseconds, 180 * secondNanoseconds)
        XCTAssertEqual(hour.windowSeconds, 3600)
        hour.add(1, at: 0)
        XCTAssertEqual(hour.value(at: 3600 * secondNanoseconds - 1), 1)
        XCTAssertEqual(hour.value(at: 3600 * secondNanoseconds), 0)
    }
}
