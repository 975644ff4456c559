import RuleLanguage

/// Reads the items of `expect_firing`, `expect_resolved` and `expect_silent`.
struct ExpectationParser {
    static let matchKeys = ["rule", "entity", "pid", "at", "within"]
    static let detailKeys = ["labels", "fields", "value", "message"]

    let file: String

    func parse(_ node: YAMLNode, kind: Expectation.Kind, diagnostics: inout Diagnostics) -> [Expectation] {
        let key = "expect_\(kind.rawValue)"
        let file = self.file
        guard let items = diagnostics.attempt({ () throws(RuleFileError) in
            try listItems(node, key: key, item: "a mapping such as {rule: workload-stalled, pid: 1024}", file: file)
        }) else { return [] }
        return items.compactMap { read($0, kind: kind, diagnostics: &diagnostics) }
    }

    private func read(_ node: YAMLNode, kind: Expectation.Kind, diagnostics: inout Diagnostics) -> Expectation? {
        let place = "in expect_\(kind.rawValue)"
        let allowed = kind == .silent ? Self.matchKeys : Self.matchKeys + Self.detailKeys
        let errorsBefore = diagnostics.errors.count
        let file = self.file
        guard let keys = KeyedMapping.read(node, file: file, allowed: allowed, place: place, diagnostics: &diagnostics) else { return nil }
        if kind != .silent { keys.require(["rule"], place: place, diagnostics: &diagnostics) }
        let rule = keys.read("rule", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try nonEmptyText(node, key: "rule", file: file)
        }
        let entity = keys.read("entity", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try nonEmptyText(node, key: "entity", file: file).text
        }
        let pid = keys.number("pid", in: 0...UInt32.max, diagnostics: &diagnostics)
        let window = readWindow(keys, diagnostics: &diagnostics)
        let labels = keys.read("labels", diagnostics: &diagnostics, readLabels) ?? []
        let fields = keys.read("fields", diagnostics: &diagnostics, readFields) ?? []
        let value = keys.read("value", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try condition(node, key: "value")
        }
        let message = keys.read("message", diagnostics: &diagnostics) { node throws(RuleFileError) in
            try nonEmptyText(node, key: "message", file: file).text
        }
        guard diagnostics.errors.count == errorsBefore else { return nil }
        return Expectation(kind: kind, rule: rule?.text, entity: entity, pid: pid, window: window, labels: labels,
                           fields: fields, value: value, message: message,
                           location: SourceLocation(file: file, mark: keys.mark), ruleMark: rule?.mark)
    }

    /// `at: T`, or `within: T` (from the start to T), or `within: [FROM, TO]`.
    private func readWindow(_ keys: KeyedMapping, diagnostics: inout Diagnostics) -> TimeWindow? {
        let file = self.file
        if keys["at"] != nil, let within = keys.mark(ofKey: "within") {
            diagnostics.record(within, "give either 'at' (the state at one moment) or 'within' (a span), not both")
            return nil
        }
        if let at = keys.read("at", diagnostics: &diagnostics, { node throws(RuleFileError) in
            try duration(node, key: "at", file: file)
        }) {
            return .at(Int64(at))
        }
        return keys.read("within", diagnostics: &diagnostics) { node throws(RuleFileError) -> TimeWindow in
            guard case .sequence(let bounds, let mark) = node else {
                return .within(from: 0, to: Int64(try duration(node, key: "within", file: file)))
            }
            guard bounds.count == 2 else {
                throw RuleFileError(file: file, at: mark, "'within' must be a duration or a span [FROM, TO] such as [1s, 3s], "
                                    + "not a list of \(bounds.count)")
            }
            let from = try duration(bounds[0], key: "within", file: file)
            let to = try duration(bounds[1], key: "within", file: file)
            guard from <= to else {
                throw RuleFileError(file: file, at: bounds[1].mark, "'within' ends (\(DurationText.text(Int64(to)))) "
                                    + "before it starts (\(DurationText.text(Int64(from))))")
            }
            return .within(from: Int64(from), to: Int64(to))
        }
    }

    private func readLabels(_ node: YAMLNode) throws(RuleFileError) -> [LabelMatch] {
        try pairs(node, key: "labels").map { (name, mark, value) throws(RuleFileError) in
            LabelMatch(name: name, value: try scalarText(value, key: name, file: file).text, mark: mark)
        }
    }

    private func readFields(_ node: YAMLNode) throws(RuleFileError) -> [FieldMatch] {
        try pairs(node, key: "fields").map { (name, mark, value) throws(RuleFileError) in
            FieldMatch(name: name, condition: try condition(value, key: name), mark: mark)
        }
    }

    private func pairs(_ node: YAMLNode, key: String) throws(RuleFileError) -> [(String, SourceMark, YAMLNode)] {
        guard case .mapping(let pairs, _) = node else {
            throw RuleFileError(file: file, at: node.mark, "'\(key)' must map names to values, such as {category: network}, "
                                + "not be \(kindName(of: node))")
        }
        return pairs.compactMap { pair in
            guard case .scalar(let name, _, let mark) = pair.key else { return nil }
            return (name, mark, pair.value)
        }
    }

    private func condition(_ node: YAMLNode, key: String) throws(RuleFileError) -> ValueCondition {
        let (text, mark) = try scalarText(node, key: key, file: file)
        guard let condition = ValueCondition(text) else {
            throw RuleFileError(file: file, at: mark, "'\(key)' must be a value, or a comparison such as '>= 2' or '< 1.5s' "
                                + "(<, <=, >, >= need a number or a duration), not '\(text)'")
        }
        return condition
    }
}
