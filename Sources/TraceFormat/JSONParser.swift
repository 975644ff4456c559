/// A strict RFC 8259 parser over bytes: nothing beyond the grammar is
/// accepted (no comments, trailing commas, NaN, '+' or leading zeros),
/// duplicate keys are errors, and nesting stops at `maximumDepth` so that
/// no input can exhaust the stack. Strings are in JSONStringParser.swift.
struct JSONParser {
    static let maximumDepth = 32

    let bytes: UnsafeRawBufferPointer
    var index = 0
    /// Where the value of each member of the top-level object starts, in
    /// member order: lets the trace decoder point at a value in its
    /// messages, and re-read a string with its escapes (a comm).
    private(set) var topLevelValueOffsets: [Int] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0, expected: "a value")
        skipWhitespace()
        guard index == bytes.count else { throw unexpected("end of input after the value") }
        return value
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// An error at the current byte: "expected X, got Y".
    func unexpected(_ expected: String) -> JSONError {
        JSONError(column: index + 1, message: "expected \(expected), got \(describeCurrent())")
    }

    func error(_ message: String, at offset: Int) -> JSONError {
        JSONError(column: offset + 1, message: message)
    }

    private func describeCurrent() -> String {
        guard let byte = current else { return "the end of the input" }
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(hexByte(byte))"
    }

    private mutating func skipWhitespace() {
        while let byte = current, isJSONWhitespace(byte) {
            index += 1
        }
    }

    /// `depth` is how many arrays and objects enclose the value.
    private mutating func parseValue(depth: Int, expected: String) throws(JSONError) -> JSONValue {
        guard let byte = current else { throw unexpected(expected) }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "+"): throw unexpected("\(expected) (a number must not start with '+')")
        case UInt8(ascii: "N"), UInt8(ascii: "I"): throw unexpected("\(expected) (NaN and Infinity are not JSON)")
        default: throw unexpected(expected)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= Self.maximumDepth else {
            throw error("too deeply nested: more than \(Self.maximumDepth) levels of arrays and objects", at: index)
        }
        index += 1
        skipWhitespace()
        var members: [JSONMember] = []
        // Room for a trace line's keys at once: growing cost more than the rest.
        var keys = Set<String>(minimumCapacity: 48)
        members.reserveCapacity(48)
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            guard current == UInt8(ascii: "\"") else {
                throw unexpected(members.isEmpty ? "a string key or '}'" : "a string key after ','")
            }
            let keyOffset = index
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error("duplicate key \(quoted(key))", at: keyOffset) }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw unexpected("':' after an object key") }
            index += 1
            skipWhitespace()
            if depth == 1 { topLevelValueOffsets.append(index) }
            members.append(JSONMember(key: key, value: try parseValue(depth: depth, expected: "a value after ':'")))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw unexpected("',' or '}' after an object member")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= Self.maximumDepth else {
            throw error("too deeply nested: more than \(Self.maximumDepth) levels of arrays and objects", at: index)
        }
        index += 1
        skipWhitespace()
        var elements: [JSONValue] = []
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth, expected: elements.isEmpty ? "a value or ']'" : "a value after ','"))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw unexpected("',' or ']' after an array element")
            }
        }
    }

    private mutating func parseLiteral(_ word: StaticString, _ value: JSONValue) throws(JSONError) -> JSONValue {
        let start = index
        for expectedByte in UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard current == expectedByte else {
                throw JSONError(column: start + 1, message: "expected '\(word)', got \(describeWord(from: start))")
            }
            index += 1
        }
        return value
    }

    /// The letters at `offset`, for a misspelt literal ("tru", "nil").
    private func describeWord(from offset: Int) -> String {
        var end = offset
        while end < bytes.count, end - offset < 16, isASCIILetter(bytes[end]) { end += 1 }
        return "'\(String(decoding: bytes[offset..<end], as: UTF8.self))'"
    }

    private mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = index
        if current == UInt8(ascii: "-") {
            index += 1
            if current == UInt8(ascii: "I") { throw unexpected("a digit after '-' (Infinity is not JSON)") }
        }
        guard let first = current, isDecimalDigit(first) else { throw unexpected("a digit after '-'") }
        index += 1
        if first == UInt8(ascii: "0") {
            if let next = current, isDecimalDigit(next) {
                throw unexpected("'.', 'e' or the end of the number after a leading '0' (leading zeros are not allowed)")
            }
        } else {
            skipDigits()
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let digit = current, isDecimalDigit(digit) else { throw unexpected("a digit after '.'") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let digit = current, isDecimalDigit(digit) else { throw unexpected("a digit in the exponent") }
            skipDigits()
        }
        return JSONNumber(validatedText: String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private mutating func skipDigits() {
        while let byte = current, isDecimalDigit(byte) { index += 1 }
    }
}
