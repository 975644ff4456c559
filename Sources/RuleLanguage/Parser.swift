/// A Pratt parser: each operator binds by its precedence, lowest first:
///
///     or  <  and  <  not (prefix)  <  == != < <= > >= in, not in  <  + -  <  * /  <  - (prefix)
///
/// `or`, `and`, `+ - * /` associate to the left; comparisons do not chain.
struct Parser {
    private enum Precedence: Int, Comparable {
        case lowest, or, and, not, comparison, sum, product

        static func < (lhs: Precedence, rhs: Precedence) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private let source: ExpressionSource
    private let tokens: [Token]
    private var position = 0
    private var nesting = 0

    /// Parses the whole of `range` (default: all the text) as one expression.
    static func parse(_ source: ExpressionSource, range: Range<Int>? = nil) throws(RuleFileError) -> Expression {
        var lexer = Lexer(source: source, range: range)
        var parser = Parser(source: source, tokens: try lexer.tokens())
        let expression = try parser.expression(above: .lowest)
        guard parser.current.kind == .end else {
            throw parser.error("expected an operator or the end of the expression, found \(parser.current.kind.description)")
        }
        return expression
    }

    private init(source: ExpressionSource, tokens: [Token]) {
        self.source = source
        self.tokens = tokens
    }

    private var current: Token { tokens[position] }
    private var next: Token { tokens[min(position + 1, tokens.count - 1)] }
    private var currentMark: SourceMark { source.mark(at: current.offset) }

    private func error(_ message: String) -> RuleFileError {
        source.error(at: current.offset, message)
    }

    private mutating func advance() -> Token {
        defer { position = min(position + 1, tokens.count - 1) }
        return current
    }

    /// Parses operators that bind tighter than `minimum`.
    private mutating func expression(above minimum: Precedence) throws(RuleFileError) -> Expression {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= ExpressionLimits.parserNesting else {
            throw error("the expression nests deeper than \(ExpressionLimits.parserNesting) levels")
        }
        var left = try prefix()
        while let precedence = infixPrecedence(), precedence > minimum {
            left = try infix(after: left, precedence: precedence)
        }
        return left
    }

    private func infixPrecedence() -> Precedence? {
        switch current.kind {
        case .or: .or
        case .and: .and
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .in: .comparison
        case .not where next.kind == .in: .comparison
        case .plus, .minus: .sum
        case .star, .slash: .product
        default: nil
        }
    }

    private mutating func infix(after left: Expression, precedence: Precedence) throws(RuleFileError) -> Expression {
        let mark = currentMark
        let token = advance()
        let result: Expression
        switch token.kind {
        case .in:
            result = .membership(left, try membershipSet(), negated: false, mark)
        case .not:
            _ = advance()
            result = .membership(left, try membershipSet(), negated: true, mark)
        default:
            let right = try expression(above: precedence)
            result = .binary(Parser.binaryOperator(token.kind), left, right, mark)
        }
        if precedence == .comparison, infixPrecedence() == .comparison {
            throw error("comparisons cannot be chained; join them with 'and'")
        }
        return result
    }

    private static func binaryOperator(_ kind: TokenKind) -> BinaryOperator {
        switch kind {
        case .or: .or
        case .and: .and
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessEqual: .lessEqual
        case .greater: .greater
        case .greaterEqual: .greaterEqual
        case .plus: .add
        case .minus: .subtract
        case .star: .multiply
        default: .divide
        }
    }

    /// After `in`: a list name, or values in parentheses.
    private mutating func membershipSet() throws(RuleFileError) -> MembershipSet {
        if case .identifier(let name) = current.kind, next.kind != .leftParenthesis {
            let mark = currentMark
            _ = advance()
            return .list(name, mark)
        }
        guard current.kind == .leftParenthesis else {
            throw error("expected a list name or values in parentheses after 'in', found \(current.kind.description)")
        }
        return .items(try parenthesizedList(of: "values after 'in'"))
    }

    /// `( item, item, … )` with at least one item.
    private mutating func parenthesizedList(of what: String) throws(RuleFileError) -> [Expression] {
        let open = source.mark(at: advance().offset)
        var items = [try expression(above: .lowest)]
        while current.kind == .comma {
            _ = advance()
            items.append(try expression(above: .lowest))
        }
        guard current.kind == .rightParenthesis else {
            throw error("expected ',' or ')' to close the \(what) opened at \(open), found \(current.kind.description)")
        }
        _ = advance()
        return items
    }

    private mutating func prefix() throws(RuleFileError) -> Expression {
        let mark = currentMark
        switch current.kind {
        case .not:
            _ = advance()
            return .not(try expression(above: .not), mark)
        case .minus:
            _ = advance()
            return .negate(try expression(above: .product), mark)
        case .leftParenthesis:
            let open = advance()
            let inner = try expression(above: .lowest)
            guard current.kind == .rightParenthesis else {
                throw error("expected ')' to close the '(' at \(source.mark(at: open.offset)), found \(current.kind.description)")
            }
            _ = advance()
            return inner
        case .identifier(let name) where next.kind == .leftParenthesis:
            _ = advance()
            if next.kind == .rightParenthesis {
                _ = advance()
                _ = advance()
                return .call(name, [], mark)
            }
            return .call(name, try parenthesizedList(of: "arguments of '\(name)'"), mark)
        case .identifier(let name):
            _ = advance()
            return .name(name, mark)
        case .number(let value):
            _ = advance()
            return .number(value, mark)
        case .duration(let seconds):
            _ = advance()
            return .duration(seconds, mark)
        case .string(let text):
            _ = advance()
            return .string(text, mark)
        case .true, .false:
            let token = advance()
            return .boolean(token.kind == .true, mark)
        default:
            throw error("expected a value, found \(current.kind.description)")
        }
    }
}
