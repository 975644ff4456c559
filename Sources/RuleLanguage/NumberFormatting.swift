// Written without `rounded()`: in optimised builds it calls libm's `round`,
// which the agent does not otherwise link.

/// Numbers as the rule language writes them: exact integers (up to 2^53)
/// without ".0", others in the shortest form that reads back exactly.
func canonicalNumber(_ value: Double) -> String {
    exactInteger(value).map { String($0) } ?? value.description
}

/// Durations in the largest whole unit: "1h", "2m", else seconds ("90s", "0.5s").
func canonicalDuration(_ seconds: Double) -> String {
    for (unit, size) in [("h", 3600.0), ("m", 60.0)] where seconds != 0 && exactInteger(seconds / size) != nil {
        return canonicalNumber(seconds / size) + unit
    }
    return canonicalNumber(seconds) + "s"
}

/// A number for people: at most three decimals.
func displayNumber(_ value: Double) -> String {
    canonicalNumber(roundedToThousandths(value))
}

func displayDuration(_ seconds: Double) -> String {
    canonicalDuration(roundedToThousandths(seconds))
}

/// The value as an integer when it is one and a Double holds it exactly.
private func exactInteger(_ value: Double) -> Int64? {
    guard abs(value) <= 9_007_199_254_740_992 else { return nil }
    let integer = Int64(value)
    return Double(integer) == value ? integer : nil
}

/// Half away from zero; values too large to have decimals stay as they are.
private func roundedToThousandths(_ value: Double) -> Double {
    guard abs(value) < 1e15 else { return value }
    let scaled = value * 1000
    return Double(Int64(scaled + (scaled < 0 ? -0.5 : 0.5))) / 1000
}
