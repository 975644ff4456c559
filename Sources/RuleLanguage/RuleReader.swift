/// Reads, checks and compiles the rules of one file, reporting every error
/// it finds in a rule, not just the first.
struct RuleReader {
    static let keys = ["rule", "description", "on", "condition", "value", "for", "keep_firing_for",
                       "severity", "labels", "message", "enabled"]
    static let requiredKeys = ["rule", "description", "on", "condition", "severity", "message"]
    /// `for` and `keep_firing_for` longer than a day are taken for typos.
    static let longestHold: Double = 86_400

    /// A rule as far as it could be read: its name (for duplicate checks
    /// across files) and, when it has no error, the compiled rule.
    struct Result {
        let name: (text: String, location: SourceLocation)?
        let rule: CompiledRule?
    }

    let file: String
    let source: SourceText
    let lists: [String: RuleList]
    let subjectSchemas: [String: FieldSchema]
    let eventSchema: FieldSchema
    let functions: [AggregateFunction]

    func read(_ node: YAMLNode, macros: inout MacroTable, log: inout ErrorLog) -> Result {
        let errorsBefore = log.errors.count
        let keys: MappingReader
        do {
            keys = try MappingReader(node, file: file, allowed: Self.keys, place: "in a rule", log: &log)
        } catch {
            log.record(error)
            return Result(name: nil, rule: nil)
        }
        keys.require(Self.requiredKeys, place: "in a rule", log: &log)
        let name = keys.read("rule", log: &log, readRuleName)
        let description = keys.read("description", log: &log) { node throws(RuleFileError) in try readText(node, key: "description") }
        let subject = keys.read("on", log: &log, readSubject)
        let forSeconds = keys.read("for", log: &log) { node throws(RuleFileError) in try readHold(node, key: "for") } ?? 0
        let keepFiringSeconds = keys.read("keep_firing_for", log: &log) { node throws(RuleFileError) in
            try readHold(node, key: "keep_firing_for")
        } ?? 0
        let severity = keys.read("severity", log: &log, readSeverity)
        let labels = keys["labels"].map { readLabels($0, log: &log) } ?? []
        let isEnabled = keys.read("enabled", log: &log, readEnabled) ?? true

        var compiler = ExpressionCompiler()
        var condition: CompiledExpression?
        var value: CompiledExpression?
        var message: MessageTemplate?
        if let subject {
            let checker = TypeChecker(file: file, subjectSchema: subject.schema, eventSchema: eventSchema,
                                      lists: lists, functions: functions)
            condition = keys.read("condition", log: &log) { node throws(RuleFileError) in
                try compileCondition(node, checker: checker, macros: &macros, compiler: &compiler)
            }
            value = keys.read("value", log: &log) { node throws(RuleFileError) in
                try compileValue(node, checker: checker, macros: &macros, compiler: &compiler)
            }
            message = keys.read("message", log: &log) { node throws(RuleFileError) in
                try compileMessage(node, checker: checker, macros: &macros, compiler: &compiler)
            }
        }
        let nameLocation = name.map { (text: $0.text, location: SourceLocation(file: file, mark: $0.mark)) }
        guard log.errors.count == errorsBefore, let name, let description, let subject, let condition,
              let severity, let message else {
            return Result(name: nameLocation, rule: nil)
        }
        let rule = CompiledRule(
            name: name.text, description: description, subject: subject.name, condition: condition,
            value: value, forSeconds: forSeconds, keepFiringSeconds: keepFiringSeconds, severity: severity, labels: labels,
            message: message, isEnabled: isEnabled, source: SourceLocation(file: file, mark: node.mark),
            fieldNames: compiler.fieldNames, aggregates: compiler.aggregates)
        return Result(name: nameLocation, rule: rule)
    }

    /// Lower-case letters, digits and '-', so names are safe in labels and URLs.
    private func readRuleName(_ node: YAMLNode) throws(RuleFileError) -> (text: String, mark: SourceMark) {
        let (name, _, mark) = try scalar(node, key: "rule", file: file)
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard !name.isEmpty, allowed else {
            throw RuleFileError(file: file, at: mark, "invalid rule name '\(name)': use only a-z, 0-9 and '-'")
        }
        return (name, mark)
    }

    private func readText(_ node: YAMLNode, key: String) throws(RuleFileError) -> String {
        let (text, _, mark) = try scalar(node, key: key, file: file)
        guard !text.isEmpty else { throw RuleFileError(file: file, at: mark, "'\(key)' must not be empty") }
        return text
    }

    private func readSubject(_ node: YAMLNode) throws(RuleFileError) -> (name: String, schema: FieldSchema) {
        let (name, _, mark) = try scalar(node, key: "on", file: file)
        guard let schema = subjectSchemas[name] else {
            let hint = suggestion(for: name, among: subjectSchemas.keys)
            throw RuleFileError(file: file, at: mark, "unknown subject '\(name)' for 'on'"
                + (hint.isEmpty ? "; expected one of: \(subjectSchemas.keys.sorted().joined(separator: ", "))" : hint))
        }
        return (name, schema)
    }

    private func readHold(_ node: YAMLNode, key: String) throws(RuleFileError) -> Double {
        let (text, _, mark) = try scalar(node, key: key, file: file)
        guard let (value, type) = plainLiteral(text), type == .duration, case .number(let seconds) = value else {
            throw RuleFileError(file: file, at: mark, "'\(key)' must be a duration like 30s, 5m or 1h, not '\(text)'")
        }
        guard seconds <= Self.longestHold else {
            throw RuleFileError(file: file, at: mark, "'\(key)' must be at most 24h, not \(canonicalDuration(seconds))")
        }
        return seconds
    }

    private func readSeverity(_ node: YAMLNode) throws(RuleFileError) -> Severity {
        let (text, _, mark) = try scalar(node, key: "severity", file: file)
        guard let severity = Severity(rawValue: text) else {
            throw RuleFileError(file: file, at: mark, "'severity' must be critical, warning or info, not '\(text)'"
                + suggestion(for: text, among: Severity.allCases.map(\.rawValue)))
        }
        return severity
    }

    private func readEnabled(_ node: YAMLNode) throws(RuleFileError) -> Bool {
        let (text, style, mark) = try scalar(node, key: "enabled", file: file)
        guard style.isPlain, text == "true" || text == "false" else {
            throw RuleFileError(file: file, at: mark, "'enabled' must be true or false, not '\(text)'")
        }
        return text == "true"
    }

    /// Label names follow Prometheus: `[a-zA-Z_][a-zA-Z0-9_]*`.
    private func readLabels(_ node: YAMLNode, log: inout ErrorLog) -> [RuleLabel] {
        guard case .mapping(let pairs, _) = node else {
            log.record(RuleFileError(file: file, at: node.mark, "'labels' must map label names to values, not be \(node.kindName)"))
            return []
        }
        var labels: [RuleLabel] = []
        for (key, value) in pairs {
            guard case .scalar(let name, _, let mark) = key else { continue }
            guard isIdentifier(name) else {
                log.record(RuleFileError(file: file, at: mark, "invalid label name '\(name)': use letters, digits and '_', not starting with a digit"))
                continue
            }
            if let text = log.attempt({ () throws(RuleFileError) in try scalar(value, key: name, file: file).text }) {
                labels.append(RuleLabel(name: name, value: text))
            }
        }
        return labels.sorted { $0.name < $1.name }
    }

    private func compileCondition(_ node: YAMLNode, checker: TypeChecker, macros: inout MacroTable,
                                  compiler: inout ExpressionCompiler) throws(RuleFileError) -> CompiledExpression? {
        let (text, style, mark) = try scalar(node, key: "condition", file: file)
        let source = try ExpressionSource(file: file, scalar: text, style: style, mark: mark, in: self.source)
        guard let expression = try macros.expand(Parser.parse(source)) else { return nil }
        return compiler.compile(try checker.checkCondition(expression), description: expression.description)
    }

    /// The figure an alert reports as its `value`: any expression.
    private func compileValue(_ node: YAMLNode, checker: TypeChecker, macros: inout MacroTable,
                              compiler: inout ExpressionCompiler) throws(RuleFileError) -> CompiledExpression? {
        let (text, style, mark) = try scalar(node, key: "value", file: file)
        let source = try ExpressionSource(file: file, scalar: text, style: style, mark: mark, in: self.source)
        guard let expression = try macros.expand(Parser.parse(source)) else { return nil }
        return compiler.compile(try checker.checkValue(expression), description: expression.description)
    }

    private func compileMessage(_ node: YAMLNode, checker: TypeChecker, macros: inout MacroTable,
                                compiler: inout ExpressionCompiler) throws(RuleFileError) -> MessageTemplate? {
        let (text, style, mark) = try scalar(node, key: "message", file: file)
        guard !text.isEmpty else { throw RuleFileError(file: file, at: mark, "'message' must not be empty") }
        let source = try ExpressionSource(file: file, scalar: text, style: style, mark: mark, in: self.source)
        return try MessageTemplateParser(source: source, checker: checker).parse(macros: &macros, compiler: &compiler)
    }
}
