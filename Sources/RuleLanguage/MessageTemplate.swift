/// An alert's message: text with `{expression}` placeholders, compiled with
/// the rule so placeholders read the same fields and aggregates.
public struct MessageTemplate: Sendable {
    public enum Segment: Sendable {
        case text(String)
        case value(CompiledExpression)
    }

    public let segments: [Segment]
    /// Room for a message: its text and a few bytes per value, made once so
    /// that a message is not regrown as it is built.
    private let expectedLength: Int

    init(segments: [Segment]) {
        self.segments = segments
        expectedLength = segments.reduce(0) { length, segment in
            switch segment {
            case .text(let text): length + text.utf8.count
            case .value: length + 16
            }
        }
    }

    /// Numbers and durations are shown with at most three decimals
    /// ("2.5", "90s", "2m"), a missing value as "n/a".
    public func render(_ context: any EvaluationContext) -> String {
        var result = ""
        result.reserveCapacity(expectedLength)
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
