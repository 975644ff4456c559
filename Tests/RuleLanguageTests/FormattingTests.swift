import XCTest
@testable import RuleLanguage

final class FormattingTests: XCTestCase {
    func testCanonicalNumbersAndDurations() {
        let numbers: [(Double, String)] = [(3, "3"), (-0.0, "0"), (2.5, "2.5"), (0.1, "0.1"), (1e15, "1000000000000000"), (1e17, "1e+17"), (1.0 / 3, "0.3333333333333333")]
        for (value, text) in numbers { XCTAssertEqual(canonicalNumber(value), text) }
        let durations: [(Double, String)] = [(3600, "1h"), (5400, "90m"), (120, "2m"), (90, "90s"), (0.5, "0.5s"), (0, "0s"), (7200.5, "7200.5s")]
        for (seconds, text) in durations { XCTAssertEqual(canonicalDuration(seconds), text) }
    }

    func testDisplayRoundsToThousandths() {
        XCTAssertEqual(displayNumber(2.0 / 3), "0.667")
        XCTAssertEqual(displayNumber(-0.0001), "0")
        XCTAssertEqual(displayNumber(1e20), "1e+20")
        XCTAssertEqual(displayDuration(59.9999), "1m")
        XCTAssertEqual(displayDuration(1.23456), "1.235s")
    }

    func testSuggestions() {
        let fields = ["retransmits", "retransmit_rate", "rto_count", "comm"]
        XCTAssertEqual(suggestion(for: "retransmit_rte", among: fields), " (did you mean 'retransmit_rate'?)")
        XCTAssertEqual(suggestion(for: "retransmit", among: fields), " (did you mean 'retransmits'?)")
        XCTAssertEqual(suggestion(for: "COMM", among: fields), " (did you mean 'comm'?)")
        XCTAssertEqual(suggestion(for: "rto", among: fields), " (did you mean 'rto_count'?)")
        XCTAssertEqual(suggestion(for: "pid", among: fields), "")
        XCTAssertEqual(suggestion(for: "x", among: []), "")
        XCTAssertEqual(editDistance(Array("kitten".unicodeScalars), Array("sitting".unicodeScalars)), 3)
    }

    func testPlainLiterals() {
        XCTAssertEqual(plainLiteral("80")?.value, .number(80))
        XCTAssertEqual(plainLiteral("-1.5")?.value, .number(-1.5))
        XCTAssertEqual(plainLiteral("30s")?.type, .duration)
        XCTAssertEqual(plainLiteral("true")?.value, .boolean(true))
        XCTAssertNil(plainLiteral("-true"))
        XCTAssertNil(plainLiteral("80 90"))
        XCTAssertNil(plainLiteral("python3"))
        XCTAssertNil(plainLiteral("'x"))
    }
}
