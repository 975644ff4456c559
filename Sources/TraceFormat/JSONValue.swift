/// A JSON value as RFC 8259 defines it. Objects keep their members in the
/// order of the text (duplicate keys are rejected by the parser), and
/// numbers keep their text, so nothing is rounded before it is asked for.
/// (Not `indirect`: arrays and objects already hold their elements on the
/// heap, and boxing every number and string would cost an allocation each.)
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// Parses one JSON text (a whole document, surrounding whitespace allowed).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(JSONError) {
        var parser = JSONParser(bytes)
        self = try parser.parseDocument()
    }

    public init(parsing bytes: [UInt8]) throws(JSONError) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONError) in try JSONValue(parsing: buffer) }
        }
        self = try result.get()
    }

    /// The value of `key` in an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var number: JSONNumber? {
        if case .number(let number) = self { return number }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var object: [JSONMember]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// "a string", "an object", ...: for messages like "must be a number, got a string".
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// One `"key": value` pair of an object.
public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}
