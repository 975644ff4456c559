/// Where each character of a scalar's value sits in the file.
///
/// libyaml only marks where a scalar starts, so the value is aligned with the
/// source text from that mark: characters that are equal match, a folded line
/// break matches the space it became, indentation and quotes are skipped.
/// This is exact for plain, quoted and literal (`|`) scalars, and for folded
/// (`>`) and multi-line flow scalars made of ordinary text. A YAML escape that
/// produces a different character (`\n`, `\t`, `\x41` in a double-quoted
/// scalar) cannot be matched: it is placed at the first character not yet
/// matched, and the rest of the value stays exact. (The search for a match
/// stops at a double-quoted scalar's closing quote: an escaped "\n" must not
/// match the line break after the scalar.)
func sourceMarks(ofScalar value: [Unicode.Scalar], style: ScalarStyle, start: SourceMark,
                 in source: SourceText) -> [SourceMark] {
    // A block scalar's text starts on the line after its indicator (which may
    // carry a comment that must not be matched).
    let from = style == .literal || style == .folded ? SourceMark(line: start.line + 1, column: 1) : start
    // An empty quoted value "ends" just inside its opening quote.
    let isQuoted = style == .singleQuoted || style == .doubleQuoted
    var aligner = ScalarAligner(characters: source.characters(from: from), fallback: isQuoted ? from.advanced : from,
                                stopsAtClosingQuote: style == .doubleQuoted)
    var marks = value.map { aligner.mark(of: $0) }
    marks.append(aligner.endMark)
    return marks
}

private struct ScalarAligner {
    /// Non-blank characters to look past for a match (the longest YAML escape
    /// is `\UXXXXXXXX`); blanks are skipped freely, up to a sanity bound.
    static let skippableCharacters = 12
    static let skippableBlanks = 4096

    var characters: SourceCharacters
    var buffer: [(Unicode.Scalar, SourceMark)] = []
    var cursor = 0
    var endMark: SourceMark
    /// A double-quoted scalar: the characters end before its closing quote
    /// (the first '"' after the opening one that is not escaped).
    let stopsAtClosingQuote: Bool
    private var isOpen = false
    private var isEscaping = false
    private var isClosed = false

    init(characters: SourceCharacters, fallback: SourceMark, stopsAtClosingQuote: Bool) {
        self.characters = characters
        endMark = fallback
        self.stopsAtClosingQuote = stopsAtClosingQuote
    }

    mutating func mark(of character: Unicode.Scalar) -> SourceMark {
        var skipped = 0
        var blanks = 0
        var index = cursor
        while let (candidate, mark) = self[index] {
            if matches(character, candidate) {
                cursor = index + 1
                endMark = self[cursor]?.1 ?? mark.advanced
                return mark
            }
            if isBlank(candidate) && !isBlank(character) {
                blanks += 1
                if blanks > ScalarAligner.skippableBlanks { break }
            } else {
                skipped += 1
                if skipped > ScalarAligner.skippableCharacters { break }
            }
            index += 1
        }
        return self[cursor]?.1 ?? endMark
    }

    private subscript(index: Int) -> (Unicode.Scalar, SourceMark)? {
        mutating get {
            while buffer.count <= index, !isClosed, let next = characters.next() {
                if stopsAtClosingQuote {
                    if isEscaping {
                        isEscaping = false
                    } else if next.0 == "\\" {
                        isEscaping = true
                    } else if next.0 == "\"" && isOpen {
                        isClosed = true
                        break
                    }
                    isOpen = true
                }
                buffer.append(next)
            }
            return index < buffer.count ? buffer[index] : nil
        }
    }

    private func matches(_ character: Unicode.Scalar, _ candidate: Unicode.Scalar) -> Bool {
        character == candidate || ((character == " " || character == "\n") && candidate == "\n")
    }

    private func isBlank(_ character: Unicode.Scalar) -> Bool {
        character == " " || character == "\t" || character == "\n"
    }
}
