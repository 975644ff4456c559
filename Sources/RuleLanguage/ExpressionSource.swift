/// The text of an expression (a condition, a macro, a message) with the file
/// position of each of its characters, so every token can be located.
struct ExpressionSource {
    let file: String
    let text: [Unicode.Scalar]
    /// One mark per character, plus one for the end of the text; nil when
    /// the text stands alone on line 1.
    private let marks: [SourceMark]?

    /// An expression written in a YAML scalar.
    init(file: String, scalar: String, style: ScalarStyle, mark: SourceMark, in source: SourceText) throws(RuleFileError) {
        self.file = file
        text = Array(scalar.unicodeScalars)
        guard text.count <= ExpressionLimits.characters else {
            throw RuleFileError(file: file, at: mark, "the text is too long for an expression (more than \(ExpressionLimits.characters) characters)")
        }
        marks = sourceMarks(ofScalar: text, style: style, start: mark, in: source)
    }

    /// An expression on its own, as if it were line 1 of `file`.
    init(file: String, text: String) {
        self.file = file
        self.text = Array(text.unicodeScalars)
        marks = nil
    }

    func mark(at offset: Int) -> SourceMark {
        let offset = min(max(offset, 0), text.count)
        return marks?[offset] ?? SourceMark(line: 1, column: offset + 1)
    }

    func error(at offset: Int, _ message: String) -> RuleFileError {
        RuleFileError(file: file, at: mark(at: offset), message)
    }
}
