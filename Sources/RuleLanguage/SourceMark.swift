/// A position in a rule file. Both numbers are 1-based; columns count Unicode
/// scalars, as libyaml's marks do (a byte-order mark is not counted).
public struct SourceMark: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: SourceMark, rhs: SourceMark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }

    /// The position of the next character on the same line.
    var advanced: SourceMark { SourceMark(line: line, column: column + 1) }
}

/// A position together with the file it is in.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let mark: SourceMark

    public init(file: String, mark: SourceMark) {
        self.file = file
        self.mark = mark
    }

    public var description: String { "\(file):\(mark)" }
}
