/// Durations in test files ("250ms", "1.5s", "2m", "1h", or a bare "0"),
/// read as exact nanoseconds so that the edges of time windows compare
/// without rounding.
enum DurationText {
    /// Test times are at most a day: longer ones are taken for typos.
    static let longest: UInt64 = 86_400_000_000_000
    static let example = "a duration like 250ms, 1.5s, 2m or 1h"

    /// "ms" before "m" and "s", so that "5ms" is not read as minutes.
    private static let units: [(suffix: String, nanoseconds: UInt64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// The nanoseconds `text` stands for; nil when it is not a duration,
    /// is finer than a nanosecond or overflows.
    static func nanoseconds(_ text: String) -> UInt64? {
        if text == "0" { return 0 }
        guard let unit = units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
        let number = text.utf8.dropLast(unit.suffix.utf8.count)
        let parts = number.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = digits(parts[0]) else { return nil }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: unit.nanoseconds)
        guard !overflow else { return nil }
        guard parts.count == 2 else { return scaled }
        guard parts[1].count <= 9, let fraction = digits(parts[1]) else { return nil }
        var power: UInt64 = 1
        for _ in 0..<parts[1].count { power *= 10 }
        let (product, productOverflow) = fraction.multipliedReportingOverflow(by: unit.nanoseconds)
        guard !productOverflow, product % power == 0 else { return nil }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(product / power)
        return sumOverflow ? nil : sum
    }

    /// Seconds with as many decimals as needed: "0s", "2.75s", "-0.000001s".
    static func text(_ nanoseconds: Int64) -> String {
        let magnitude = nanoseconds.magnitude
        var text = nanoseconds < 0 ? "-" : ""
        text += String(magnitude / 1_000_000_000)
        var fraction = magnitude % 1_000_000_000
        if fraction != 0 {
            var width = 9
            while fraction % 10 == 0 {
                fraction /= 10
                width -= 1
            }
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: width - digits.count) + digits
        }
        return text + "s"
    }

    private static func digits(_ bytes: Substring.UTF8View) -> UInt64? {
        guard !bytes.isEmpty, bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(String(decoding: bytes, as: UTF8.self))
    }
}
