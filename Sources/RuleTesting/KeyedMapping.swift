import RuleLanguage

/// The values of a YAML mapping by key, after checking every key against
/// the ones allowed there (each unknown key is an error naming the
/// expected ones).
struct KeyedMapping {
    let file: String
    let mark: SourceMark
    /// The keys present, in document order, with where each is written.
    private(set) var keys: [(name: String, mark: SourceMark)] = []
    private var values: [String: YAMLNode] = [:]

    /// `place` says where the mapping is, for messages: "in a test".
    init(_ node: YAMLNode, file: String, allowed: [String], place: String,
         diagnostics: inout Diagnostics) throws(RuleFileError) {
        guard case .mapping(let pairs, let mark) = node else {
            throw RuleFileError(file: file, at: node.mark,
                                "expected a mapping \(place) with the keys \(allowed.joined(separator: ", ")), not \(kindName(of: node))")
        }
        self.file = file
        self.mark = mark
        for (key, value) in pairs {
            guard case .scalar(let name, _, let keyMark) = key else { continue }
            guard allowed.contains(name) else {
                diagnostics.record(keyMark, "unknown key '\(name)' \(place); expected one of: \(allowed.joined(separator: ", "))")
                continue
            }
            keys.append((name, keyMark))
            values[name] = value
        }
    }

    /// The mapping, or nil after recording why `node` is not one.
    static func read(_ node: YAMLNode, file: String, allowed: [String], place: String,
                     diagnostics: inout Diagnostics) -> KeyedMapping? {
        do {
            return try KeyedMapping(node, file: file, allowed: allowed, place: place, diagnostics: &diagnostics)
        } catch {
            diagnostics.record(error)
            return nil
        }
    }

    subscript(key: String) -> YAMLNode? { values[key] }

    /// Where `key` is written, when present.
    func mark(ofKey key: String) -> SourceMark? {
        keys.first { $0.name == key }?.mark
    }

    /// The whole number at `key`, when present and in `range`.
    func number<T: FixedWidthInteger>(_ key: String, in range: ClosedRange<T>, diagnostics: inout Diagnostics) -> T? {
        let file = self.file
        return read(key, diagnostics: &diagnostics) { node throws(RuleFileError) in
            try wholeNumber(node, key: key, file: file, in: range)
        }
    }

    /// The value named at `key`, when present and one of `choices`.
    func oneOf<T>(_ key: String, among choices: [(name: String, value: T)], diagnostics: inout Diagnostics) -> T? {
        let file = self.file
        return read(key, diagnostics: &diagnostics) { node throws(RuleFileError) in
            try choice(node, key: key, file: file, among: choices)
        }
    }

    /// Records one error naming every required key that is absent; false then.
    @discardableResult
    func require(_ required: [String], place: String, diagnostics: inout Diagnostics) -> Bool {
        let missing = required.filter { values[$0] == nil }
        guard !missing.isEmpty else { return true }
        let names = missing.map { "'\($0)'" }.joined(separator: ", ")
        diagnostics.record(mark, "missing required key\(missing.count == 1 ? "" : "s") \(names) \(place)")
        return false
    }

    /// The value at `key` as read by `body`; nil when absent, or when
    /// `body` fails (its error is recorded).
    func read<T>(_ key: String, diagnostics: inout Diagnostics,
                 _ body: (YAMLNode) throws(RuleFileError) -> T) -> T? {
        guard let node = values[key] else { return nil }
        return diagnostics.attempt { () throws(RuleFileError) in try body(node) }
    }
}

/// "a single value", "a list" or "a mapping", for messages.
func kindName(of node: YAMLNode) -> String {
    switch node {
    case .scalar: "a single value"
    case .sequence: "a list"
    case .mapping: "a mapping"
    }
}

/// The text of a scalar; anything else is an error naming `key`.
func scalarText(_ node: YAMLNode, key: String, file: String) throws(RuleFileError) -> (text: String, mark: SourceMark) {
    guard case .scalar(let text, _, let mark) = node else {
        throw RuleFileError(file: file, at: node.mark, "'\(key)' must be a single value, not \(kindName(of: node))")
    }
    return (text, mark)
}

/// A non-empty text.
func nonEmptyText(_ node: YAMLNode, key: String, file: String) throws(RuleFileError) -> (text: String, mark: SourceMark) {
    let (text, mark) = try scalarText(node, key: key, file: file)
    guard !text.isEmpty else { throw RuleFileError(file: file, at: mark, "'\(key)' must not be empty") }
    return (text, mark)
}

/// The items of a list; anything else is an error naming `key` and what
/// an item is (`item`: "a test", "a rule file path").
func listItems(_ node: YAMLNode, key: String, item: String, file: String) throws(RuleFileError) -> [YAMLNode] {
    guard case .sequence(let items, _) = node else {
        throw RuleFileError(file: file, at: node.mark,
                            "'\(key)' must be a list (lines starting with '- '), each item \(item), not \(kindName(of: node))")
    }
    return items
}

/// A duration of at most a day, in nanoseconds.
func duration(_ node: YAMLNode, key: String, file: String) throws(RuleFileError) -> UInt64 {
    let (text, mark) = try scalarText(node, key: key, file: file)
    guard let nanoseconds = DurationText.nanoseconds(text) else {
        throw RuleFileError(file: file, at: mark, "'\(key)' must be \(DurationText.example), not '\(text)'")
    }
    guard nanoseconds <= DurationText.longest else {
        throw RuleFileError(file: file, at: mark, "'\(key)' must be at most 24h, not '\(text)'")
    }
    return nanoseconds
}

/// A whole number in `range`.
func wholeNumber<T: FixedWidthInteger>(_ node: YAMLNode, key: String, file: String,
                                       in range: ClosedRange<T>) throws(RuleFileError) -> T {
    let (text, mark) = try scalarText(node, key: key, file: file)
    guard let value = T(text), range.contains(value) else {
        throw RuleFileError(file: file, at: mark,
                            "'\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
    }
    return value
}

/// One of `choices`.
func choice<T>(_ node: YAMLNode, key: String, file: String, among choices: [(name: String, value: T)]) throws(RuleFileError) -> T {
    let (text, mark) = try scalarText(node, key: key, file: file)
    guard let found = choices.first(where: { $0.name == text }) else {
        throw RuleFileError(file: file, at: mark,
                            "'\(key)' must be one of \(choices.map(\.name).joined(separator: ", ")), not '\(text)'")
    }
    return found.value
}
