/// Splits an expression into tokens. Numbers are limited to 2^53
/// (9007199254740992) so that every integer literal is exact. Strings take
/// the escapes `\" \' \\ \n \t` and end on the line they start.
struct Lexer {
    /// Seconds per unit as a fraction: `700ms` is 700 / 1000, the double
    /// nearest 0.7, where 700 × 0.001 would be 0.7000000000000001 and
    /// `blocked_1s >= 700ms` would miss a blocked time of exactly 0.7 s.
    static let durationUnits: [String: (multiplier: Double, divisor: Double)] = [
        "ms": (1, 1000), "s": (1, 1), "m": (60, 1), "h": (3600, 1),
    ]

    let source: ExpressionSource
    private var index: Int
    private let end: Int

    /// Lexes `range` of the source's text (a message placeholder is a range).
    init(source: ExpressionSource, range: Range<Int>? = nil) {
        self.source = source
        index = range?.lowerBound ?? 0
        end = range?.upperBound ?? source.text.count
    }

    /// All tokens, ending with `.end`.
    mutating func tokens() throws(RuleFileError) -> [Token] {
        var tokens: [Token] = []
        while true {
            skipWhitespace()
            let token = try nextToken()
            tokens.append(token)
            if token.kind == .end { return tokens }
            if tokens.count > ExpressionLimits.tokens {
                throw source.error(at: token.offset, "the expression is too long (more than \(ExpressionLimits.tokens) tokens)")
            }
        }
    }

    private var current: Unicode.Scalar? { index < end ? source.text[index] : nil }

    private func scalar(at offset: Int) -> Unicode.Scalar? {
        offset < end ? source.text[offset] : nil
    }

    private mutating func skipWhitespace() {
        while let character = current, character == " " || character == "\t" || character == "\n" || character == "\r" {
            index += 1
        }
    }

    private mutating func nextToken() throws(RuleFileError) -> Token {
        let start = index
        guard let character = current else { return Token(kind: .end, offset: start) }
        if isDigit(character) { return Token(kind: try number(), offset: start) }
        if isNameStart(character) { return Token(kind: try name(), offset: start) }
        if character == "\"" || character == "'" { return Token(kind: try string(quote: character), offset: start) }
        return Token(kind: try symbol(character), offset: start)
    }

    private mutating func symbol(_ character: Unicode.Scalar) throws(RuleFileError) -> TokenKind {
        let start = index
        let next = scalar(at: index + 1)
        index += 1
        switch character {
        case "+": return .plus
        case "-": return .minus
        case "*": return .star
        case "/": return .slash
        case "(": return .leftParenthesis
        case ")": return .rightParenthesis
        case ",": return .comma
        case "<", ">", "=", "!":
            if next == "=" {
                index += 1
                switch character {
                case "<": return .lessEqual
                case ">": return .greaterEqual
                case "=": return .equal
                default: return .notEqual
                }
            }
            switch character {
            case "<": return .less
            case ">": return .greater
            case "=": throw source.error(at: start, "'=' is not an operator; use '==' to compare")
            default: throw source.error(at: start, "'!' is not an operator; use 'not' to negate or '!=' to compare")
            }
        case "&": throw source.error(at: start, "'&' is not an operator; use 'and'")
        case "|": throw source.error(at: start, "'|' is not an operator; use 'or'")
        default: throw source.error(at: start, "unexpected character \(describe(character))")
        }
    }

    /// Digits with an optional fraction and an optional duration unit.
    private mutating func number() throws(RuleFileError) -> TokenKind {
        let start = index
        while let character = current, isDigit(character) { index += 1 }
        let integerDigits = String(String.UnicodeScalarView(source.text[start..<index].drop(while: { $0 == "0" })))
        if current == "." {
            index += 1
            guard let character = current, isDigit(character) else {
                throw source.error(at: index, "expected a digit after the decimal point")
            }
            while let character = current, isDigit(character) { index += 1 }
        }
        let text = String(String.UnicodeScalarView(source.text[start..<index]))
        // Compared as digits: 2^53 + 1 would round to 2^53 as a Double.
        let limit = "9007199254740992"
        let tooLarge = integerDigits.count > limit.count || (integerDigits.count == limit.count && integerDigits > limit)
        guard !tooLarge, let value = Double(text) else {
            throw source.error(at: start, "the number \(abbreviated(text)) is too large (the limit is \(limit))")
        }
        guard let character = current, isNameStart(character) || isDigit(character) else { return .number(value) }
        let unitStart = index
        while let character = current, isNameStart(character) || isDigit(character) { index += 1 }
        let unit = String(String.UnicodeScalarView(source.text[unitStart..<index]))
        guard let seconds = Lexer.durationUnits[unit] else {
            throw source.error(at: unitStart, "unknown unit '\(abbreviated(unit))' after \(text); a duration is written like 500ms, 30s, 5m or 1h")
        }
        return .duration(value * seconds.multiplier / seconds.divisor)
    }

    /// A name, with dotted parts: `edge.rate`.
    private mutating func name() throws(RuleFileError) -> TokenKind {
        let start = index
        while true {
            while let character = current, isNameStart(character) || isDigit(character) { index += 1 }
            guard current == "." else { break }
            index += 1
            guard let character = current, isNameStart(character) else {
                throw source.error(at: index, "expected a name after '.'")
            }
        }
        let name = String(String.UnicodeScalarView(source.text[start..<index]))
        return TokenKind.keywords[name] ?? .identifier(name)
    }

    private mutating func string(quote: Unicode.Scalar) throws(RuleFileError) -> TokenKind {
        let start = index
        index += 1
        var value = String.UnicodeScalarView()
        while true {
            guard let character = current, character != "\n", character != "\r" else {
                throw source.error(at: start, "unterminated string: close it with \(quote) on the same line")
            }
            index += 1
            if character == quote { return .string(String(value)) }
            guard character == "\\" else {
                value.append(character)
                continue
            }
            switch current {
            case "\\": value.append("\\")
            case "\"": value.append("\"")
            case "'": value.append("'")
            case "n": value.append("\n")
            case "t": value.append("\t")
            default:
                throw source.error(at: index - 1, "unknown escape in string; use \\\\, \\\", \\', \\n or \\t")
            }
            index += 1
        }
    }

    private func isDigit(_ character: Unicode.Scalar) -> Bool { ("0"..."9").contains(character) }

    private func isNameStart(_ character: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(character) || ("A"..."Z").contains(character) || character == "_"
    }

    private func describe(_ character: Unicode.Scalar) -> String {
        let hex = String(character.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return character.properties.isWhitespace || character.value < 0x20 || character.value == 0x7F
            ? code : "'\(character)' (\(code))"
    }

    private func abbreviated(_ text: String) -> String {
        text.unicodeScalars.count <= 24 ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(24))) + "…"
    }
}
