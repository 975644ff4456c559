/// A file's `macros:` (name → expression), parsed and expanded once at load.
/// A name in an expression that is a macro is replaced by the macro's body
/// (macros win over fields of the same name). Bodies are typed where a rule
/// uses them, against that rule's subject, so an unused macro is only
/// parsed. Cycles, and expansions beyond `ExpressionLimits`, are errors.
struct MacroTable {
    /// An expanded expression with its size, to bound it without walking it again.
    private struct Expansion {
        let expression: Expression
        let nodes: Int
        let depth: Int
    }

    private let file: String
    private var names: Set<String> = []
    private var bodies: [String: Expression] = [:]
    private var expansions: [String: Expansion] = [:]
    /// Macros with a reported error; what uses them is skipped silently.
    private var broken: Set<String> = []

    init(_ node: YAMLNode?, file: String, source: SourceText, lists: [String: RuleList], log: inout ErrorLog) {
        self.file = file
        guard let node else { return }
        guard case .mapping(let pairs, _) = node else {
            log.record(RuleFileError(file: file, at: node.mark, "'macros' must map macro names to expressions, not be \(node.kindName)"))
            return
        }
        var order: [String] = []
        for (key, value) in pairs {
            guard case .scalar(let name, _, let mark) = key else { continue }
            guard isExpressionName(name), lists[name] == nil else {
                log.record(RuleFileError(file: file, at: mark, lists[name] == nil
                    ? "invalid macro name '\(name)': use letters, digits and '_', not starting with a digit, and not a keyword"
                    : "'\(name)' is already the name of a list"))
                continue
            }
            names.insert(name)
            order.append(name)
            let body = log.attempt { () throws(RuleFileError) in
                let (text, style, mark) = try scalar(value, key: name, file: file)
                return try Parser.parse(try ExpressionSource(file: file, scalar: text, style: style, mark: mark, in: source))
            }
            if let body { bodies[name] = body } else { broken.insert(name) }
        }
        for name in order where expansions[name] == nil && !broken.contains(name) {
            do {
                _ = try expansion(of: name, stack: [])
            } catch {
                log.record(error)
            }
        }
    }

    /// `expression` with every macro replaced; nil when it uses a macro with
    /// an error (already reported).
    mutating func expand(_ expression: Expression) throws(RuleFileError) -> Expression? {
        try substitute(expression, stack: []).map(\.expression)
    }

    private mutating func expansion(of name: String, stack: [String]) throws(RuleFileError) -> Expansion? {
        if let expansion = expansions[name] { return expansion }
        guard !broken.contains(name), let body = bodies[name] else { return nil }
        do {
            let expansion = try substitute(body, stack: stack + [name])
            if let expansion { expansions[name] = expansion } else { broken.insert(name) }
            return expansion
        } catch {
            // Every macro on the way to the error is broken by it: report it once.
            broken.insert(name)
            throw error
        }
    }

    private mutating func substitute(_ expression: Expression, stack: [String]) throws(RuleFileError) -> Expansion? {
        switch expression {
        case .name(let name, let mark) where names.contains(name):
            if let start = stack.firstIndex(of: name) {
                let cycle = (stack[start...] + [name]).joined(separator: " -> ")
                throw RuleFileError(file: file, at: mark, "macro cycle: \(cycle)")
            }
            guard let body = try expansion(of: name, stack: stack) else { return nil }
            return try node(.macro(name, body.expression, mark), [body])
        case .number, .duration, .string, .boolean, .name, .macro:
            return try node(expression, [])
        case .call(let name, let arguments, let mark):
            guard let parts = try substitute(arguments, stack: stack) else { return nil }
            return try node(.call(name, parts.map(\.expression), mark), parts)
        case .negate(let operand, let mark):
            guard let part = try substitute(operand, stack: stack) else { return nil }
            return try node(.negate(part.expression, mark), [part])
        case .not(let operand, let mark):
            guard let part = try substitute(operand, stack: stack) else { return nil }
            return try node(.not(part.expression, mark), [part])
        case .binary(let op, let left, let right, let mark):
            guard let parts = try substitute([left, right], stack: stack) else { return nil }
            return try node(.binary(op, parts[0].expression, parts[1].expression, mark), parts)
        case .membership(let value, .list(let list, let listMark), let negated, let mark):
            guard let part = try substitute(value, stack: stack) else { return nil }
            return try node(.membership(part.expression, .list(list, listMark), negated: negated, mark), [part])
        case .membership(let value, .items(let items), let negated, let mark):
            guard let parts = try substitute([value] + items, stack: stack) else { return nil }
            let expressions = parts.map(\.expression)
            return try node(.membership(expressions[0], .items(Array(expressions.dropFirst())), negated: negated, mark), parts)
        }
    }

    private mutating func substitute(_ expressions: [Expression], stack: [String]) throws(RuleFileError) -> [Expansion]? {
        var parts: [Expansion] = []
        for expression in expressions {
            guard let part = try substitute(expression, stack: stack) else { return nil }
            parts.append(part)
        }
        return parts
    }

    private func node(_ expression: Expression, _ children: [Expansion]) throws(RuleFileError) -> Expansion {
        let nodes = 1 + children.reduce(0) { $0 + $1.nodes }
        let depth = 1 + (children.map(\.depth).max() ?? 0)
        guard depth <= ExpressionLimits.depth else {
            throw RuleFileError(file: file, at: expression.mark, "the expression nests deeper than \(ExpressionLimits.depth) levels")
        }
        guard nodes <= ExpressionLimits.expandedNodes else {
            throw RuleFileError(file: file, at: expression.mark,
                                "the expression is too large with its macros expanded (more than \(ExpressionLimits.expandedNodes) parts)")
        }
        return Expansion(expression: expression, nodes: nodes, depth: depth)
    }
}
