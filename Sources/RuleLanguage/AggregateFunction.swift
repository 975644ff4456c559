/// The windowed aggregates. The engine computes each per entity over the
/// events of the last `window` seconds of event time; events without the
/// field are skipped.
public enum AggregateFunction: String, CaseIterable, Sendable {
    /// `count(WINDOW)`: events; `count(PREDICATE, WINDOW)`: events matching.
    case count
    /// `sum(FIELD, WINDOW)`
    case sum
    /// `rate(FIELD, WINDOW)`: the sum per second (sum / window seconds).
    case rate
    /// `max(FIELD, WINDOW)`, `min(…)`, `avg(…)`: NaN (read as missing) over no events.
    case max, min, avg

    /// Windows shorter than a second are noise; longer than an hour, memory.
    static let windowRange: ClosedRange<Double> = 1...3600

    var signature: String {
        self == .count ? "count(WINDOW) or count(PREDICATE, WINDOW)" : "\(rawValue)(FIELD, WINDOW)"
    }

    var argumentCounts: ClosedRange<Int> { self == .count ? 1...2 : 2...2 }

    /// The type of the result given the type of the field it reads.
    func resultType(field: FieldType?) -> FieldType {
        switch self {
        case .count, .rate: .number
        case .sum, .max, .min, .avg: field ?? .number
        }
    }
}
