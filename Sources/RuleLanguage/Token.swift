/// The pieces an expression is made of.
enum TokenKind: Equatable {
    case number(Double)
    /// In seconds.
    case duration(Double)
    case string(String)
    /// A name, possibly dotted (`edge.rate`): a field, a macro, a list or a function.
    case identifier(String)
    case and, or, not, `in`, `true`, `false`
    case plus, minus, star, slash
    case equal, notEqual, less, lessEqual, greater, greaterEqual
    case leftParenthesis, rightParenthesis, comma
    case end

    static let keywords: [String: TokenKind] = [
        "and": .and, "or": .or, "not": .not, "in": .in, "true": .true, "false": .false,
    ]

    /// How an error message names the token.
    var description: String {
        switch self {
        case .number(let value): "number \(canonicalNumber(value))"
        case .duration(let seconds): "duration \(canonicalDuration(seconds))"
        case .string: "a string"
        case .identifier(let name): "name '\(name)'"
        case .and: "'and'"
        case .or: "'or'"
        case .not: "'not'"
        case .in: "'in'"
        case .true: "'true'"
        case .false: "'false'"
        case .plus: "'+'"
        case .minus: "'-'"
        case .star: "'*'"
        case .slash: "'/'"
        case .equal: "'=='"
        case .notEqual: "'!='"
        case .less: "'<'"
        case .lessEqual: "'<='"
        case .greater: "'>'"
        case .greaterEqual: "'>='"
        case .leftParenthesis: "'('"
        case .rightParenthesis: "')'"
        case .comma: "','"
        case .end: "the end of the expression"
        }
    }
}

struct Token {
    let kind: TokenKind
    /// Index of the token's first character in the expression's text.
    let offset: Int
}
