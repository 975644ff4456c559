/// Bounds that keep every expression small enough to check and evaluate
/// with shallow recursion, whatever the input.
enum ExpressionLimits {
    /// Characters of one expression's text (a condition, a macro, a message).
    static let characters = 10_000
    /// Tokens in one expression.
    static let tokens = 1000
    /// Parentheses and prefix operators inside one another while parsing.
    static let parserNesting = 64
    /// Depth of an expression tree after macros are expanded.
    static let depth = 100
    /// Nodes of an expression tree after macros are expanded (macros that
    /// use a macro twice could otherwise grow exponentially).
    static let expandedNodes = 10_000
}
