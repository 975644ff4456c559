import RuleLanguage

/// What a test expects of the alerts: one item of `expect_firing`,
/// `expect_resolved` or `expect_silent`.
public struct Expectation: Sendable {
    public enum Kind: String, Sendable {
        case firing, resolved, silent
    }

    public let kind: Kind
    /// nil: any rule (only `expect_silent` may leave it out).
    public let rule: String?
    /// The alert's `entity_id`, exactly.
    public let entity: String?
    public let pid: UInt32?
    public let window: TimeWindow?
    public let labels: [LabelMatch]
    /// Conditions on the alert's evidence fields.
    public let fields: [FieldMatch]
    /// A condition on the alert's `value`.
    public let value: ValueCondition?
    /// Text the alert's message must contain.
    public let message: String?
    /// Where the item starts, and where its rule name is.
    public let location: SourceLocation
    public let ruleMark: SourceMark?
}

/// When an expectation looks at the alerts, in nanoseconds from the test start.
public enum TimeWindow: Sendable, Equatable {
    /// The state at one moment: firing at T (fired at or before T and not
    /// resolved since), resolved at T, or not firing at T.
    case at(Int64)
    /// A transition (fired, resolved) between two moments, both included;
    /// for `expect_silent`, not firing at any moment between them.
    case within(from: Int64, to: Int64)
}

public struct LabelMatch: Sendable, Equatable {
    public let name: String
    public let value: String
    public let mark: SourceMark
}

public struct FieldMatch: Sendable, Equatable {
    public let name: String
    public let condition: ValueCondition
    public let mark: SourceMark
}
