/// Assembles libyaml's events into a `YAMLNode` with an explicit stack (no
/// recursion, so no input can exhaust the call stack), rejecting what rule
/// files do not need: non-scalar keys, duplicate keys, deep nesting.
struct YAMLTreeBuilder {
    static let maximumDepth = 64

    private enum Frame {
        case sequence([YAMLNode], mark: SourceMark)
        case mapping(Mapping)
    }

    private struct Mapping {
        let mark: SourceMark
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        var firstMarkOfKey: [String: SourceMark] = [:]
    }

    let file: String
    private var stack: [Frame] = []
    private(set) var root: YAMLNode?

    init(file: String) {
        self.file = file
    }

    mutating func startSequence(at mark: SourceMark) throws(RuleFileError) {
        try checkDepth(at: mark)
        stack.append(.sequence([], mark: mark))
    }

    mutating func startMapping(at mark: SourceMark) throws(RuleFileError) {
        try checkDepth(at: mark)
        stack.append(.mapping(Mapping(mark: mark)))
    }

    /// Closes the innermost sequence or mapping (libyaml guarantees pairing).
    mutating func end() throws(RuleFileError) {
        switch stack.popLast() {
        case .sequence(let items, let mark): try add(.sequence(items, mark: mark))
        case .mapping(let mapping): try add(.mapping(mapping.pairs, mark: mapping.mark))
        case nil: break
        }
    }

    mutating func add(_ node: YAMLNode) throws(RuleFileError) {
        switch stack.popLast() {
        case nil:
            root = node
        case .sequence(var items, let mark):
            items.append(node)
            stack.append(.sequence(items, mark: mark))
        case .mapping(var mapping):
            if let key = mapping.pendingKey {
                mapping.pairs.append((key, node))
                mapping.pendingKey = nil
            } else {
                guard case .scalar(let text, _, let mark) = node else {
                    throw RuleFileError(file: file, at: node.mark, "a mapping key must be a single value, not \(node.kindName)")
                }
                if let first = mapping.firstMarkOfKey[text] {
                    throw RuleFileError(file: file, at: mark, "duplicate key '\(text)' (first at \(first))")
                }
                mapping.firstMarkOfKey[text] = mark
                mapping.pendingKey = node
            }
            stack.append(.mapping(mapping))
        }
    }

    private func checkDepth(at mark: SourceMark) throws(RuleFileError) {
        if stack.count >= YAMLTreeBuilder.maximumDepth {
            throw RuleFileError(file: file, at: mark, "nesting deeper than \(YAMLTreeBuilder.maximumDepth) levels is not supported")
        }
    }
}
