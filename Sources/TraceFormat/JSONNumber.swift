/// A JSON number, kept as its text. Integer accessors are exact for every
/// integer up to 2^64 - 1, whatever its spelling ("1024", "1.024e3");
/// nothing goes through a Double on the way.
public struct JSONNumber: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The number as written: valid RFC 8259 number syntax.
    public let text: String

    /// A number from its JSON text; nil when `text` is not exactly one JSON
    /// number (so no leading zeros, '+', NaN or Infinity).
    public init?(_ text: String) {
        guard case .number(let number)? = try? JSONValue(parsing: Array(text.utf8)),
              number.text == text else { return nil }
        self = number
    }

    init(validatedText: String) {
        text = validatedText
    }

    public var description: String { text }

    /// The value when it is an integer that fits an Int64.
    public var int64: Int64? {
        guard let (negative, magnitude) = integerParts else { return nil }
        if !negative { return Int64(exactly: magnitude) }
        if magnitude == UInt64(Int64.max) + 1 { return .min }
        return Int64(exactly: magnitude).map { -$0 }
    }

    /// The value when it is an integer from 0 to 2^64 - 1 ("-0" is 0).
    public var uint64: UInt64? {
        guard let (negative, magnitude) = integerParts, !negative || magnitude == 0 else { return nil }
        return magnitude
    }

    /// The nearest Double; nil when the number is beyond Double's finite range.
    public var double: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Sign and magnitude when the number is a whole number that fits 64
    /// bits: its digits shifted by the exponent, with only zeros dropped.
    private var integerParts: (negative: Bool, magnitude: UInt64)? {
        let utf8 = Array(text.utf8)
        var index = 0
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { index += 1 }
        var digits: [UInt8] = []
        var fractionDigits = 0
        var inFraction = false
        while index < utf8.count, utf8[index] != UInt8(ascii: "e"), utf8[index] != UInt8(ascii: "E") {
            let byte = utf8[index]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else {
                digits.append(byte &- UInt8(ascii: "0"))
                if inFraction { fractionDigits += 1 }
            }
            index += 1
        }
        let exponent = Self.exponent(utf8[min(index + 1, utf8.count)...]) - fractionDigits
        // Leading zeros carry nothing; with no other digit the value is 0.
        guard let firstSignificant = digits.firstIndex(where: { $0 != 0 }) else { return (negative, 0) }
        digits.removeFirst(firstSignificant)
        if exponent < 0 {
            let dropped = -exponent
            guard dropped <= digits.count, digits.suffix(dropped).allSatisfy({ $0 == 0 }) else { return nil }
            digits.removeLast(dropped)
        } else {
            // 2^64 - 1 has 20 digits: anything longer does not fit.
            guard digits.count + exponent <= 20 else { return nil }
            digits.append(contentsOf: repeatElement(0, count: exponent))
        }
        var magnitude: UInt64 = 0
        for digit in digits {
            let (shifted, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
        }
        return (negative, magnitude)
    }

    /// The exponent after 'e', clamped far beyond any 64-bit integer's
    /// range so that huge exponents cannot overflow the arithmetic.
    private static func exponent(_ text: ArraySlice<UInt8>) -> Int {
        guard let first = text.first else { return 0 }
        let negative = first == UInt8(ascii: "-")
        var value = 0
        for byte in text where byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            value = min(value * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000_000)
        }
        return negative ? -value : value
    }
}
