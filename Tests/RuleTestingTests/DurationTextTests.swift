@testable import RuleTesting
import XCTest

final class DurationTextTests: XCTestCase {
    func testReadsDurationsExactly() {
        XCTAssertEqual(DurationText.nanoseconds("0"), 0)
        XCTAssertEqual(DurationText.nanoseconds("0s"), 0)
        XCTAssertEqual(DurationText.nanoseconds("250ms"), 250_000_000)
        XCTAssertEqual(DurationText.nanoseconds("1.5s"), 1_500_000_000)
        XCTAssertEqual(DurationText.nanoseconds("0.000000001s"), 1)
        XCTAssertEqual(DurationText.nanoseconds("2m"), 120_000_000_000)
        XCTAssertEqual(DurationText.nanoseconds("1h"), 3_600_000_000_000)
        XCTAssertEqual(DurationText.nanoseconds("0.5ms"), 500_000)
    }

    func testRejectsWhatIsNotADuration() {
        for text in ["", "s", "1", "1.s", ".5s", "-1s", "1.5", "1x", "1 s", "0.0000000001s", "0.0000001ms",
                     "99999999999999999999s", "1e3s", "+1s"] {
            XCTAssertNil(DurationText.nanoseconds(text), text)
        }
    }

    func testWritesSecondsWithTheDecimalsNeeded() {
        XCTAssertEqual(DurationText.text(0), "0s")
        XCTAssertEqual(DurationText.text(2_750_000_000), "2.75s")
        XCTAssertEqual(DurationText.text(-1_000), "-0.000001s")
        XCTAssertEqual(DurationText.text(60_000_000_001), "60.000000001s")
    }
}
