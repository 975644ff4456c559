@testable import Agent
import XCTest

final class RingPacingTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    func testABatchOpensTheWindowAndTheNextReadComesWithinThePeriod() {
        var pacing = RingPacing()
        let start = 1_000 * ms
        let paced = pacing.afterRead(samples: 5, startedAt: start, readsUntil: 0)
        XCTAssertEqual(paced.readsUntil, start + 20 * ms)
        XCTAssertEqual(paced.nextRead, start + ms / 2)
    }

    func testAnEmptyReadKeepsTheWindowItWasPromised() {
        var pacing = RingPacing()
        // The programs woke the reader and opened a 5 ms window; its read
        // found nothing (the records came with the previous read).
        let paced = pacing.afterRead(samples: 0, startedAt: 1_000 * ms, readsUntil: 1_005 * ms)
        XCTAssertEqual(paced.readsUntil, 1_005 * ms)
        XCTAssertEqual(paced.nextRead, 1_000 * ms + ms)
    }

    func testAWindowEndsWithAReadStartedAtMostHalfTheMarginBeforeItsEnd() {
        var pacing = RingPacing()
        let end = 1_000 * ms
        XCTAssertNotNil(pacing.afterRead(samples: 0, startedAt: end - 101_000, readsUntil: end).nextRead)
        XCTAssertNil(pacing.afterRead(samples: 0, startedAt: end - 100_000, readsUntil: end).nextRead)
        XCTAssertNil(pacing.afterRead(samples: 0, startedAt: end + ms, readsUntil: end).nextRead)
    }

    func testThePeriodFollowsTheRateBetweenItsBounds() {
        var pacing = RingPacing()
        var start = 1_000 * ms
        // A trickle: the period doubles up to 4 ms.
        for expected in [1, 2, 4, 4].map({ $0 * ms }) {
            let paced = pacing.afterRead(samples: 1, startedAt: start, readsUntil: 0)
            XCTAssertEqual(pacing.period, expected)
            XCTAssertEqual(paced.nextRead, start + expected)
            start += expected
        }
        // 4 to 8 records a read: it stays.
        _ = pacing.afterRead(samples: 6, startedAt: start, readsUntil: 0)
        XCTAssertEqual(pacing.period, 4 * ms)
        // A flood: it halves down to half a millisecond.
        for expected in [2 * ms, ms, ms / 2, ms / 2] {
            _ = pacing.afterRead(samples: 500, startedAt: start, readsUntil: 0)
            XCTAssertEqual(pacing.period, expected)
        }
    }

    func testALineDelayIsThePeriodAtAnyRate() {
        var pacing = RingPacing(lineDelay: 30 * ms)
        var start = 1_000 * ms
        var window: UInt64 = 0
        for samples in [1, 500, 0, 6, 5_000] {
            let paced = pacing.afterRead(samples: samples, startedAt: start, readsUntil: window)
            XCTAssertEqual(pacing.period, 30 * ms)
            XCTAssertEqual(paced.nextRead, start + 30 * ms)
            window = paced.readsUntil
            start += 30 * ms
        }
    }

    func testALongLineDelayLingersLongerThanItsPeriod() {
        var pacing = RingPacing(lineDelay: 30 * ms)
        XCTAssertEqual(pacing.linger, 60 * ms)
        let start = 1_000 * ms
        let paced = pacing.afterRead(samples: 3, startedAt: start, readsUntil: 0)
        XCTAssertEqual(paced.readsUntil, start + 60 * ms)
        // A short delay keeps the default window.
        XCTAssertEqual(RingPacing(lineDelay: 2 * ms).linger, 20 * ms)
    }

    func testThePromisedPeriodIsNeverLongerThanTheProgramsAssume() {
        var pacing = RingPacing()
        for samples in [0, 0, 0, 0, 0, 0, 0, 0] {
            _ = pacing.afterRead(samples: samples, startedAt: 1_000 * ms, readsUntil: 2_000 * ms)
            XCTAssertLessThanOrEqual(pacing.period, RingPacing.longestPeriod)
        }
        XCTAssertLessThan(RingPacing.longestPeriod + RingPacing.lastReadMargin, pacing.linger)
        for delay in [1, 4, 10, 30, 100].map({ $0 * ms }) {
            XCTAssertLessThan(delay + RingPacing.lastReadMargin, RingPacing(lineDelay: delay).linger)
        }
    }
}
