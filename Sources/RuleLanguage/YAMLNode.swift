/// How a scalar was written; only plain scalars are candidates for numbers,
/// durations and booleans.
public enum ScalarStyle: Sendable {
    case plain
    case singleQuoted
    case doubleQuoted
    /// `|`
    case literal
    /// `>`
    case folded

    public var isPlain: Bool { self == .plain }
}

/// A YAML document as a tree of scalars, sequences and mappings. Tags are not
/// resolved: every scalar keeps its text and the loader decides what it means.
public enum YAMLNode: Sendable {
    case scalar(text: String, style: ScalarStyle, mark: SourceMark)
    case sequence([YAMLNode], mark: SourceMark)
    /// Pairs in document order; keys are scalars and unique.
    case mapping([(key: YAMLNode, value: YAMLNode)], mark: SourceMark)

    /// Where the node starts (for a block scalar: its `|` or `>` indicator).
    public var mark: SourceMark {
        switch self {
        case .scalar(_, _, let mark), .sequence(_, let mark), .mapping(_, let mark): mark
        }
    }

    /// "a scalar", "a sequence" or "a mapping", for error messages.
    var kindName: String {
        switch self {
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}
