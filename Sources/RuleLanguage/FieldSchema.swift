/// The type of a field, a literal or an expression.
public enum FieldType: String, Sendable, CustomStringConvertible {
    case number, string, boolean
    /// Seconds; written with a unit (`30s`) and never mixed with plain numbers.
    case duration

    public var description: String { rawValue }

    /// "a number", "a duration", for error messages.
    var withArticle: String { "a \(rawValue)" }

    var isNumeric: Bool { self == .number || self == .duration }
}

/// The fields an expression may read, with their types. The caller supplies
/// one schema per rule subject (`on:`) and one for the events that
/// aggregates run over.
public struct FieldSchema: Sendable {
    public var fields: [String: FieldType]

    public init(fields: [String: FieldType]) {
        self.fields = fields
    }
}
