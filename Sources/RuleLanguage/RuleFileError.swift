/// One problem in a rule file, located precisely enough to jump to.
public struct RuleFileError: Error, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public init(file: String, at mark: SourceMark, _ message: String) {
        self.init(file: file, line: mark.line, column: mark.column, message: message)
    }

    /// `file:line:column: message`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column): \(message)" }

    public static func < (lhs: RuleFileError, rhs: RuleFileError) -> Bool {
        (lhs.file, lhs.line, lhs.column, lhs.message) < (rhs.file, rhs.line, rhs.column, rhs.message)
    }
}

/// Every problem found while loading, sorted by file and position, so that a
/// `check` command can show them all at once.
public struct RuleFileErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [RuleFileError]

    public init(_ errors: [RuleFileError]) {
        self.errors = errors.sorted()
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
