/// Builds one JSON object per line straight into a byte buffer: no
/// Foundation, no intermediate strings, nothing allocated per event once
/// the buffer has grown.
public struct JSONLineWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 64 * 1024) {
        bytes.reserveCapacity(capacity)
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Appends a line kept from elsewhere, as it was, and its newline.
    public mutating func appendRawLine(_ line: [UInt8]) {
        bytes.append(contentsOf: line)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends the lines another writer built.
    public mutating func append(_ other: JSONLineWriter) {
        bytes.append(contentsOf: other.bytes)
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endLine() {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
    }

    public mutating func key(_ name: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// A key known only at run time (a label or evidence name), escaped.
    public mutating func key(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Opens an array as the value of the last key.
    public mutating func beginArray() {
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Opens an object as the next element of an array.
    public mutating func beginArrayObject() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Opens an object as the value of the last key.
    public mutating func beginNestedObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endNestedObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func field(_ name: String, _ value: String) {
        key(name)
        appendString(value)
    }

    public mutating func field(_ name: String, _ value: Double) {
        key(name)
        appendNumber(value)
    }

    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    public mutating func field(_ name: StaticString, _ value: UInt64) {
        key(name)
        appendDecimal(value, to: &bytes)
    }

    public mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude, to: &bytes)
    }

    /// A decimal number with at most three fractional digits (rates,
    /// seconds); non-finite values are written as 0 (JSON has no NaN).
    public mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        appendNumber(value)
    }

    /// Appends a decimal number with at most three fractional digits.
    public mutating func appendNumber(_ value: Double) {
        guard value.isFinite else {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        // Not .rounded(): it calls libm's round(), which a static release
        // link does not resolve.
        let thousandths = value.magnitude * 1000 + 0.5
        guard thousandths < 1e18 else {
            appendDecimal(UInt64(1e18) / 1000, to: &bytes)
            return
        }
        let scaled = UInt64(thousandths)
        if value < 0 && scaled != 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(scaled / 1000, to: &bytes)
        let fraction = scaled % 1000
        if fraction != 0 {
            bytes.append(UInt8(ascii: "."))
            var digits = fraction
            var divisor: UInt64 = 100
            while digits != 0 {
                bytes.append(UInt8(ascii: "0") &+ UInt8(digits / divisor))
                digits %= divisor
                divisor /= 10
            }
        }
    }

    /// A number written as a JSON string ("value":"3" in the seed's line).
    public mutating func field(_ name: StaticString, decimalString value: UInt64) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        appendDecimal(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A string known to need no escaping (names from fixed tables).
    public mutating func field(_ name: StaticString, plain value: StaticString) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        appendString(value)
    }

    public mutating func field(_ name: StaticString, _ value: IPAddress) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        value.appendText(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func field(_ name: StaticString, _ value: Command) {
        key(name)
        value.withBytes { appendEscaped($0) }
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    /// The text between `prefix` and `suffix` is written as is (an entity id
    /// like network-pid-1024): both are plain ASCII.
    public mutating func field(_ name: StaticString, prefix: StaticString, number: UInt64) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        appendDecimal(number, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends a JSON string value (after `key`).
    public mutating func appendString(_ value: String) {
        var value = value
        value.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `text` as a JSON string. Bytes that are not valid UTF-8 (a
    /// comm is raw kernel bytes) are written as \u00XX, so every line is
    /// valid JSON and nothing is silently lost.
    mutating func appendEscaped(_ text: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        var index = 0
        while index < text.count {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20: appendUnicodeEscape(byte)
            case 0x20..<0x80: bytes.append(byte)
            default:
                let length = validUTF8SequenceLength(text, at: index)
                if length == 0 {
                    appendUnicodeEscape(byte)
                } else {
                    bytes.append(contentsOf: text[index..<index + length])
                    index += length
                    continue
                }
            }
            index += 1
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendUnicodeEscape(_ byte: UInt8) {
        let digits: StaticString = "0123456789abcdef"
        bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
        bytes.append(digits.utf8Start[Int(byte >> 4)])
        bytes.append(digits.utf8Start[Int(byte & 0xf)])
    }
}

/// Length of the well-formed UTF-8 sequence of a lead byte >= 0x80 at
/// `index`, or 0 if it is not one.
private func validUTF8SequenceLength(_ text: UnsafeRawBufferPointer, at index: Int) -> Int {
    let lead = text[index]
    let length: Int
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0...0xEF: length = 3
    case 0xF0...0xF4: length = 4
    default: return 0
    }
    guard index + length <= text.count else { return 0 }
    var scalar = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
    for offset in 1..<length {
        let continuation = text[index + offset]
        guard continuation & 0xC0 == 0x80 else { return 0 }
        scalar = scalar << 6 | UInt32(continuation & 0x3F)
    }
    let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
    guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return 0 }
    return length
}

/// Appends `value` in decimal.
func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
    if value < 10 {
        output.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
        return
    }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes >= 20 digits
    var count = 0
    var remaining = value
    withUnsafeMutableBytes(of: &digits) { buffer in
        while remaining > 0 {
            buffer[23 - count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10)
            remaining /= 10
            count += 1
        }
        output.append(contentsOf: buffer[(24 - count)...])
    }
}
