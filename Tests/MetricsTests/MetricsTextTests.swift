import Metrics
import XCTest

final class MetricsTextTests: XCTestCase {
    func testFamiliesAndSamplesInExpositionFormat() {
        var text = MetricsText()
        text.family("ark_probe_things_total", .counter, help: "Things counted.")
        text.sample("ark_probe_things_total", ["kind": "a"], UInt64(3))
        text.sample("ark_probe_things_total", labels: [("kind", "b"), ("pid", "7")], 0)
        text.family("ark_probe_level", .gauge, help: "A level.")
        text.sample("ark_probe_level", [:], 0.25)
        text.sample("ark_probe_level", ["at": "max"], 2.0)
        XCTAssertEqual(text.text, """
            # HELP ark_probe_things_total Things counted.
            # TYPE ark_probe_things_total counter
            ark_probe_things_total{kind="a"} 3
            ark_probe_things_total{kind="b",pid="7"} 0
            # HELP ark_probe_level A level.
            # TYPE ark_probe_level gauge
            ark_probe_level 0.25
            ark_probe_level{at="max"} 2

            """)
    }

    func testLabelValuesAndHelpAreEscaped() {
        var text = MetricsText()
        text.family("m", .gauge, help: "back\\slash \"quoted\"\nnext line")
        text.sample("m", labels: [("comm", "a\\b\"c\nd")], 1)
        text.sample("m", ["comm": "ünï €"], UInt64(2))
        XCTAssertEqual(text.text, """
            # HELP m back\\\\slash "quoted"\\nnext line
            # TYPE m gauge
            m{comm="a\\\\b\\"c\\nd"} 1
            m{comm="ünï €"} 2

            """)
    }

    func testSpecialFloats() {
        var text = MetricsText()
        text.sample("a", [:], Double.infinity)
        text.sample("b", [:], -Double.infinity)
        text.sample("c", [:], Double.nan)
        text.sample("d", [:], 1e-05)
        text.sample("e", [:], 1e20)
        XCTAssertEqual(text.text, "a +Inf\nb -Inf\nc NaN\nd 1e-05\ne 1e+20\n")
    }

    func testHistogramIsCumulativeWithSumAndCount() {
        var histogram = LatencyHistogram(upperBoundsNanoseconds: [1_000_000, 10_000_000])
        for nanoseconds: UInt64 in [500_000, 1_000_000, 2_000_000, 20_000_000] {
            histogram.observe(nanoseconds: nanoseconds)
        }
        XCTAssertEqual(histogram.bucketCounts, [2, 1, 1])
        var text = MetricsText()
        text.family("lag_seconds", .histogram, help: "Lag.")
        text.histogram("lag_seconds", histogram)
        XCTAssertEqual(text.text, """
            # HELP lag_seconds Lag.
            # TYPE lag_seconds histogram
            lag_seconds_bucket{le="0.001"} 2
            lag_seconds_bucket{le="0.01"} 3
            lag_seconds_bucket{le="+Inf"} 4
            lag_seconds_sum 0.0235
            lag_seconds_count 4

            """)
    }

    func testNumbersWithoutFloatingPoint() {
        XCTAssertEqual(MetricsText.decimal(0), "0")
        XCTAssertEqual(MetricsText.decimal(UInt64.max), "18446744073709551615")
        let table: [([UInt64], String)] = [
            ([], "0"), ([1], "0.000000001"), ([1_500_000_000], "1.5"), ([1_500_000_000, 1], "1.500000001"),
            ([40_000_000_000], "40"), ([416_180], "0.00041618"),
        ]
        for (observations, sum) in table {
            var histogram = LatencyHistogram(upperBoundsNanoseconds: [10_000])
            for nanoseconds in observations { histogram.observe(nanoseconds: nanoseconds) }
            var text = MetricsText()
            text.histogram("h", histogram)
            XCTAssertTrue(text.text.contains("h_bucket{le=\"1e-05\"} "), text.text)
            XCTAssertTrue(text.text.contains("\nh_sum \(sum)\n"), "\(observations): \(text.text)")
        }
    }
}
