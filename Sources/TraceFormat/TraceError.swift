/// A line of a trace that could not be read, located for the user:
/// "trace.jsonl:12:31: \"pid\" must be a number, got a string".
/// `line` is 0 when the file itself could not be opened; `column` (1-based,
/// in bytes) is nil when the problem is the line as a whole.
public struct TraceError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int?
    public var message: String

    public init(file: String, line: Int, column: Int?, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var location = file
        if line > 0 { location += ":\(line)" }
        if line > 0, let column { location += ":\(column)" }
        return "\(location): \(message)"
    }
}

/// What is wrong within one line; the reader adds file and line number.
struct LineError: Error {
    var column: Int?
    var message: String
}
