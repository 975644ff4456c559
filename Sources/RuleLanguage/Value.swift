/// A value during evaluation. Durations are numbers of seconds.
///
/// `missing` stands for a field the subject does not have, an aggregate with
/// no value (NaN), or a failed computation (division by zero, overflow).
/// Arithmetic on `missing` gives `missing`; every comparison involving
/// `missing` is false (so are `in` and `not in`); `and`, `or` and `not` read
/// `missing` as false. A condition that is `missing` does not hold.
public enum Value: Hashable, Sendable {
    case number(Double)
    case string(String)
    case boolean(Bool)
    case missing
}

/// Identifies a field an expression reads: an index into the field names
/// the compiled rule (or event predicate) lists.
public struct FieldID: Hashable, Sendable {
    public let index: Int

    public init(index: Int) {
        self.index = index
    }
}

/// What a compiled expression reads while it is evaluated. A value of the
/// wrong kind for its field's type is read as `missing`.
public protocol EvaluationContext {
    func value(of field: FieldID) -> Value
    /// The current value of the rule's aggregate number `index`.
    func aggregate(_ index: Int) -> Double
}
