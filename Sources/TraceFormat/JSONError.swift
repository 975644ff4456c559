/// Why a text is not JSON, and where: `column` is the 1-based byte offset
/// in the parsed text (a line of a trace), the message says what was
/// expected there.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
