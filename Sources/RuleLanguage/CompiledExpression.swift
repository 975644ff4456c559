/// A checked expression compiled to a tree of closures: evaluation never
/// re-parses, never fails and never traps (see `Value` for `missing`).
public struct CompiledExpression: Sendable, CustomStringConvertible {
    public let type: FieldType
    /// The canonical text, fully parenthesised.
    public let description: String
    let evaluator: @Sendable (any EvaluationContext) -> Value

    public func evaluate(_ context: any EvaluationContext) -> Value {
        evaluator(context)
    }

    /// Whether a condition is true; `missing` is not.
    public func holds(in context: any EvaluationContext) -> Bool {
        evaluator(context).isTrue
    }
}
