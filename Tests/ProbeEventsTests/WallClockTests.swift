import XCTest
@testable import ProbeEvents

final class WallClockTests: XCTestCase {
    func testConvertsMonotonicNanosecondsToEpochMilliseconds() {
        let clock = WallClock(offsetNanoseconds: 1_700_000_000_000_000_000)
        XCTAssertEqual(clock.milliseconds(monotonicNanoseconds: 0), 1_700_000_000_000)
        XCTAssertEqual(clock.milliseconds(monotonicNanoseconds: 999_999), 1_700_000_000_000)
        XCTAssertEqual(clock.milliseconds(monotonicNanoseconds: 1_000_000), 1_700_000_000_001)
        XCTAssertEqual(clock.milliseconds(monotonicNanoseconds: 86_400_000_000_000), 1_700_086_400_000)
    }

    func testMeasuredOffsetAgreesWithTheSystemClock() {
        let clock = WallClock.measure()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let realtimeMilliseconds = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
        let converted = clock.milliseconds(monotonicNanoseconds: WallClock.monotonicNow())
        XCTAssertLessThanOrEqual(max(converted, realtimeMilliseconds) - min(converted, realtimeMilliseconds), 2)
    }

    func testTimesBeforeTheEpochClampToZero() {
        XCTAssertEqual(WallClock(offsetNanoseconds: -10_000_000).milliseconds(monotonicNanoseconds: 0), 0)
    }
}
