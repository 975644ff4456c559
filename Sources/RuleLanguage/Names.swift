/// `[a-zA-Z_][a-zA-Z0-9_]*`: label names (as in Prometheus), list and macro names.
func isIdentifier(_ name: String) -> Bool {
    func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
    guard let first = name.unicodeScalars.first, isLetter(first) else { return false }
    return name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
}

/// An identifier that expressions can use: not a keyword.
func isExpressionName(_ name: String) -> Bool {
    isIdentifier(name) && TokenKind.keywords[name] == nil
}
