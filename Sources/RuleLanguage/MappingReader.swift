/// The values of a YAML mapping by key, after checking every key against
/// the ones allowed there.
struct MappingReader {
    let file: String
    let mark: SourceMark
    private var values: [String: YAMLNode] = [:]

    /// Records an error for each key not in `allowed`; `place` says where the
    /// mapping is ("in a rule").
    init(_ node: YAMLNode, file: String, allowed: [String], place: String,
         log: inout ErrorLog) throws(RuleFileError) {
        guard case .mapping(let pairs, let mark) = node else {
            throw RuleFileError(file: file, at: node.mark,
                                "expected a mapping with the keys \(allowed.joined(separator: ", ")), not \(node.kindName)")
        }
        self.file = file
        self.mark = mark
        for (key, value) in pairs {
            guard case .scalar(let name, _, let keyMark) = key else { continue }
            if allowed.contains(name) {
                values[name] = value
            } else {
                let hint = suggestion(for: name, among: allowed)
                log.record(RuleFileError(file: file, at: keyMark, "unknown key '\(name)' \(place)"
                    + (hint.isEmpty ? "; expected one of: \(allowed.joined(separator: ", "))" : hint)))
            }
        }
    }

    subscript(key: String) -> YAMLNode? { values[key] }

    /// The value at `key` as read by `body`; nil when absent, or when `body`
    /// fails (its error is recorded).
    func read<T>(_ key: String, log: inout ErrorLog, _ body: (YAMLNode) throws(RuleFileError) -> T?) -> T? {
        guard let node = values[key] else { return nil }
        return log.attempt { () throws(RuleFileError) in try body(node) }
    }

    /// Records one error naming every required key that is absent.
    func require(_ keys: [String], place: String, log: inout ErrorLog) {
        let missing = keys.filter { values[$0] == nil }
        guard !missing.isEmpty else { return }
        let names = missing.map { "'\($0)'" }.joined(separator: ", ")
        log.record(RuleFileError(file: file, at: mark,
                                 "missing required key\(missing.count == 1 ? "" : "s") \(names) \(place)"))
    }
}

/// The text of a scalar; anything else is an error naming `key`.
func scalar(_ node: YAMLNode, key: String, file: String) throws(RuleFileError) -> (text: String, style: ScalarStyle, mark: SourceMark) {
    guard case .scalar(let text, let style, let mark) = node else {
        throw RuleFileError(file: file, at: node.mark, "'\(key)' must be a single value, not \(node.kindName)")
    }
    return (text, style, mark)
}
