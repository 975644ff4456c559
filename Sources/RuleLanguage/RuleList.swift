/// A named list from a file's `lists:`, used as `value in name`.
struct RuleList {
    let mark: SourceMark
    let values: [Value]
    /// The type of every item; nil for an empty list, which fits any value.
    let type: FieldType?

    /// `lists:` maps names to sequences of single values. A plain item is a
    /// number, duration or boolean when it reads as one; anything else, and
    /// every quoted item, is a string. All items of a list have one type.
    static func readAll(_ node: YAMLNode?, file: String, log: inout ErrorLog) -> [String: RuleList] {
        guard let node else { return [:] }
        guard case .mapping(let pairs, _) = node else {
            log.record(RuleFileError(file: file, at: node.mark, "'lists' must map list names to lists of values, not be \(node.kindName)"))
            return [:]
        }
        var lists: [String: RuleList] = [:]
        for (key, value) in pairs {
            guard case .scalar(let name, _, let mark) = key else { continue }
            guard isExpressionName(name) else {
                log.record(RuleFileError(file: file, at: mark, "invalid list name '\(name)': use letters, digits and '_', not starting with a digit, and not a keyword"))
                continue
            }
            if let list = log.attempt({ () throws(RuleFileError) in try read(value, named: name, file: file) }) {
                lists[name] = list
            }
        }
        return lists
    }

    private static func read(_ node: YAMLNode, named name: String, file: String) throws(RuleFileError) -> RuleList {
        guard case .sequence(let items, let mark) = node else {
            throw RuleFileError(file: file, at: node.mark, "list '\(name)' must be a list of values like [a, b], not \(node.kindName)")
        }
        var values: [Value] = []
        var listType: FieldType?
        for item in items {
            guard case .scalar(let text, let style, let itemMark) = item else {
                throw RuleFileError(file: file, at: item.mark, "the items of list '\(name)' must be single values, not \(item.kindName)")
            }
            let (value, type) = (style.isPlain ? plainLiteral(text) : nil) ?? (.string(text), .string)
            if let listType, listType != type {
                throw RuleFileError(file: file, at: itemMark,
                                    "this item of list '\(name)' is \(type.withArticle), but the first is \(listType.withArticle); quote items to make them strings")
            }
            listType = type
            values.append(value)
        }
        return RuleList(mark: mark, values: values, type: listType)
    }
}
