/// What a plain YAML scalar means as a literal of the rule language: a
/// number (possibly negative), a duration, true or false; nil otherwise.
func plainLiteral(_ text: String) -> (value: Value, type: FieldType)? {
    guard text.utf8.count <= 64 else { return nil }  // no literal is longer
    var lexer = Lexer(source: ExpressionSource(file: "", text: text))
    guard let tokens = try? lexer.tokens() else { return nil }
    var kinds = tokens.map(\.kind).dropLast()
    let negative = kinds.first == .minus
    if negative { kinds = kinds.dropFirst() }
    guard kinds.count == 1, let only = kinds.first else { return nil }
    switch only {
    case .number(let value): return (.number(negative ? -value : value), .number)
    case .duration(let seconds) where !negative: return (.number(seconds), .duration)
    case .true where !negative: return (.boolean(true), .boolean)
    case .false where !negative: return (.boolean(false), .boolean)
    default: return nil
    }
}
