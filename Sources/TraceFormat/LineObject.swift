import ProbeEvents

/// The top-level object of one trace line. Keys are read through `Field`,
/// whose errors name the key, what it must be, and its column.
struct LineObject {
    let bytes: UnsafeRawBufferPointer
    let members: [JSONMember]
    /// Byte offset of each member's value, in member order.
    let valueOffsets: [Int]

    subscript(key: String) -> Field? {
        guard let position = members.firstIndex(where: { $0.key == key }) else { return nil }
        return Field(key: key, value: members[position].value, offset: valueOffsets[position], line: bytes)
    }

    subscript(key: EventKey) -> Field? {
        self[key.text]
    }

    /// The field, or an error naming the key and what it should have been.
    func require(_ key: EventKey, _ expected: String) throws(LineError) -> Field {
        try require(key.text, expected)
    }

    func require(_ key: String, _ expected: String) throws(LineError) -> Field {
        guard let field = self[key] else { throw LineError(column: nil, message: "missing key \(quoted(key)) (\(expected))") }
        return field
    }
}

/// One member of a line's object, with typed readers.
struct Field {
    let key: String
    let value: JSONValue
    let offset: Int
    let line: UnsafeRawBufferPointer

    var column: Int { offset + 1 }

    /// An error about this field: "\"pid\" must be ..." at its column.
    func failure(_ message: String) -> LineError {
        LineError(column: column, message: "\(quoted(key)) \(message)")
    }

    func string() throws(LineError) -> String {
        guard case .string(let text) = value else { throw failure("must be a string, got \(value.typeDescription)") }
        return text
    }

    /// The string's UTF-8 bytes, for readers shared with AgentLineScanner.
    func withStringBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) throws(LineError) -> Result {
        var text = try string()
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// Only that the value is a string (`entity_id`, `value` of most events).
    func checkString() throws(LineError) {
        _ = try string()
    }

    func bool() throws(LineError) -> Bool {
        guard case .bool(let flag) = value else { throw failure("must be true or false, got \(value.typeDescription)") }
        return flag
    }

    /// A whole number that fits `T` exactly ("1024", also "1.024e3").
    func integer<T: FixedWidthInteger>() throws(LineError) -> T {
        guard case .number(let number) = value else { throw failure("must be a number, got \(value.typeDescription)") }
        let exact = T.isSigned ? number.int64.flatMap(T.init(exactly:)) : number.uint64.flatMap(T.init(exactly:))
        guard let exact else {
            throw failure("must be an integer from \(T.min) to \(T.max), got \(abbreviated(number.text))")
        }
        return exact
    }

    /// One of the names the encoder writes for `T`.
    func named<T: NamedValue>() throws(LineError) -> T {
        let name = try string()
        guard let found = T.named(name) else { throw failure("must be one of \(T.allNames); got \(quoted(name))") }
        return found
    }

    func address() throws(LineError) -> IPAddress {
        let text = try string()
        guard let address = IPAddress(text: text) else {
            throw failure("must be an IPv4 or IPv6 address, got \(quoted(text))")
        }
        return address
    }

    /// A comm: the string read again from the line with the encoder's
    /// convention that \u0080-\u00FF are raw bytes (not UTF-8 in the comm).
    func command() throws(LineError) -> Command {
        _ = try string()
        var parser = JSONParser(line)
        parser.index = offset
        let bytes: [UInt8]
        do { bytes = try parser.parseStringBytes(byteEscapes: true) } catch { throw failure(error.message) }
        guard bytes.count <= 15 else { throw failure("must be at most 15 bytes (a kernel comm), got \(bytes.count)") }
        guard !bytes.contains(0) else { throw failure("must not contain NUL (\\u0000)") }
        return Command(bytes: bytes)
    }
}
