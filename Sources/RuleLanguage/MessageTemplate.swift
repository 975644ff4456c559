/// An alert's message: text with `{expression}` placeholders, compiled with
/// the rule so placeholders read the same fields and aggregates.
public struct MessageTemplate: Sendable {
    public enum Segment: Sendable {
        case text(String)
        case value(CompiledExpression)
    }

    public let segments: [Segment]

    /// Numbers and durations are shown with at most three decimals
    /// ("2.5", "90s", "2m"), a missing value as "n/a".
    public func render(_ context: any EvaluationContext) -> String {
        var result = ""
        for segment in segments {
            switch segment {
            case .text(let text):
                result += text
            case .value(let expression):
                result += Self.display(expression.evaluate(context), as: expression.type)
            }
        }
        return result
    }

    private static func display(_ value: Value, as type: FieldType) -> String {
        switch value {
        case .number(let number): type == .duration ? displayDuration(number) : displayNumber(number)
        case .string(let text): text
        case .boolean(let flag): flag ? "true" : "false"
        case .missing: "n/a"
        }
    }
}
