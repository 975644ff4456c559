import RuleLanguage

/// A condition on an alert's value or evidence field: a value to equal,
/// or a comparison written as ">= 2", "< 1.5s", "!= open". Numbers and
/// durations (as seconds) compare as numbers, anything else as text.
public struct ValueCondition: Sendable, Equatable, CustomStringConvertible {
    public enum Comparison: String, Sendable, CaseIterable {
        // Two-character operators first, so that ">=" is not read as ">".
        case greaterOrEqual = ">=", lessOrEqual = "<=", equal = "==", notEqual = "!="
        case greater = ">", less = "<"
    }

    public let comparison: Comparison
    /// The text after the operator.
    public let operandText: String
    /// The operand as a number, when it is one.
    public let number: Double?
    /// As written, for messages.
    public let written: String

    /// Nil when an ordering comparison (<, >, ...) is not followed by a
    /// number or a duration.
    public init?(_ text: String) {
        written = text
        let found = Comparison.allCases.first { text.hasPrefix($0.rawValue) }
        comparison = found ?? .equal
        operandText = String(text.dropFirst(found?.rawValue.count ?? 0).drop { $0 == " " })
        number = Self.number(operandText)
        if number == nil && comparison != .equal && comparison != .notEqual { return nil }
    }

    public var description: String { written }

    public func matches(_ value: Value) -> Bool {
        if case .missing = value { return false }
        if case .number(let actual) = value, let expected = number {
            switch comparison {
            case .equal: return actual == expected
            case .notEqual: return actual != expected
            case .greater: return actual > expected
            case .greaterOrEqual: return actual >= expected
            case .less: return actual < expected
            case .lessOrEqual: return actual <= expected
            }
        }
        let equal = valueText(value) == operandText
        switch comparison {
        case .equal: return equal
        case .notEqual: return !equal
        default: return false
        }
    }

    /// A finite decimal number, or a duration in seconds.
    private static func number(_ text: String) -> Double? {
        if !text.contains(where: \.isLetter), text.first != "+", let number = Double(text), number.isFinite {
            return number
        }
        return DurationText.nanoseconds(text).map { Double($0) / 1e9 }
    }
}

/// A value as the alert line writes it: whole numbers without a fraction.
func valueText(_ value: Value) -> String {
    switch value {
    case .number(let number):
        if number.magnitude < 9_007_199_254_740_992, Double(Int64(number)) == number { return String(Int64(number)) }
        return number.description
    case .string(let text): return text
    case .boolean(let flag): return flag ? "true" : "false"
    case .missing: return "(none)"
    }
}
