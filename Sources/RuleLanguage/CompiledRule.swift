public enum Severity: String, CaseIterable, Sendable {
    case critical, warning, info
}

public struct RuleLabel: Hashable, Sendable {
    public let name: String
    public let value: String
}

/// A rule ready for the engine. The condition and the message read subject
/// fields by `FieldID` (an index into `fieldNames`) and aggregates by their
/// index in `aggregates`.
public struct CompiledRule: Sendable {
    public let name: String
    public let description: String
    /// The `on:` subject: which schema the rule was checked against.
    public let subject: String
    public let condition: CompiledExpression
    /// The figure an alert reports as its `value` (`value:`); nil when the
    /// rule names none.
    public let value: CompiledExpression?
    /// How long the condition must hold before the rule fires.
    public let forSeconds: Double
    /// How long the alert stays firing after the condition stops holding.
    public let keepFiringSeconds: Double
    public let severity: Severity
    /// Sorted by name.
    public let labels: [RuleLabel]
    public let message: MessageTemplate
    /// A disabled rule is checked like the others but should not be evaluated.
    public let isEnabled: Bool
    /// Where the rule's mapping starts.
    public let source: SourceLocation
    public let fieldNames: [String]
    public let aggregates: [AggregateSpec]
}

/// The rules of every file loaded together, in file order.
public struct RuleSet: Sendable {
    public let rules: [CompiledRule]
}
