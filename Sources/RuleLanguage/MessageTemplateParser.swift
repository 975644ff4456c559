/// Reads a message template: `{expression}` is a placeholder (usually just a
/// field, `{comm}`), `{{` and `}}` are literal braces, a lone brace is an
/// error. Placeholders are checked against the rule's subject like its
/// condition, and may use aggregates and macros.
struct MessageTemplateParser {
    let source: ExpressionSource
    let checker: TypeChecker

    func parse(macros: inout MacroTable, compiler: inout ExpressionCompiler) throws(RuleFileError) -> MessageTemplate? {
        let text = source.text
        var segments: [MessageTemplate.Segment] = []
        var literal = String.UnicodeScalarView()
        var index = 0
        while index < text.count {
            let character = text[index]
            let next = index + 1 < text.count ? text[index + 1] : nil
            if (character == "{" || character == "}") && next == character {
                literal.append(character)
                index += 2
                continue
            }
            if character == "}" {
                throw source.error(at: index, "a single '}' in a message must be written '}}'")
            }
            guard character == "{" else {
                literal.append(character)
                index += 1
                continue
            }
            guard let close = text[index...].firstIndex(of: "}") else {
                throw source.error(at: index, "'{' starts a placeholder that is never closed with '}'; write '{{' for a literal brace")
            }
            guard text[(index + 1)..<close].contains(where: { $0 != " " }) else {
                throw source.error(at: index, "empty placeholder: put a field name between the braces, like {comm}")
            }
            guard let expression = try macros.expand(Parser.parse(source, range: (index + 1)..<close)) else { return nil }
            if !literal.isEmpty { segments.append(.text(String(literal))) }
            literal = String.UnicodeScalarView()
            segments.append(.value(compiler.compile(try checker.checkValue(expression), description: expression.description)))
            index = close + 1
        }
        if !literal.isEmpty { segments.append(.text(String(literal))) }
        return MessageTemplate(segments: segments)
    }
}
