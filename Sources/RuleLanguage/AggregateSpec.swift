/// One windowed aggregate a rule reads. The engine keeps one window state per
/// aggregate per entity and answers `EvaluationContext.aggregate(index)` with
/// its current value. Identical aggregates in a rule share one index.
public struct AggregateSpec: Sendable, CustomStringConvertible {
    public let function: AggregateFunction
    public let windowSeconds: Double
    public let input: AggregateInput
    /// The canonical text, e.g. `count((cause == "rto"), 30s)`.
    public let description: String
}

public enum AggregateInput: Sendable {
    /// `count(WINDOW)`: every event of the entity.
    case everyEvent
    /// The event field summed, averaged, …
    case field(String)
    /// `count(PREDICATE, WINDOW)`: the events the predicate holds for.
    case matching(EventPredicate)
}

/// A condition over one event. It reads event fields by `FieldID`, an index
/// into `fieldNames`; it contains no aggregates.
public struct EventPredicate: Sendable {
    public let fieldNames: [String]
    public let condition: CompiledExpression

    public func matches(_ event: any EvaluationContext) -> Bool {
        condition.holds(in: event)
    }
}
