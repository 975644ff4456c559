/// JSON strings: escapes (surrogate pairs joined, lone surrogates
/// rejected) and UTF-8 validation that names what is wrong (overlong
/// forms, encoded surrogates, code points above U+10FFFF, stray bytes).
extension JSONParser {
    /// Parses the string whose opening quote is at `index`.
    mutating func parseString() throws(JSONError) -> String {
        // Fast path: most keys and values are plain ASCII without escapes.
        var end = index + 1
        while end < bytes.count {
            let byte = bytes[end]
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { break }
            end += 1
        }
        if end < bytes.count && bytes[end] == UInt8(ascii: "\"") {
            let text = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
            index = end + 1
            return text
        }
        return String(decoding: try parseStringBytes(byteEscapes: false), as: UTF8.self)
    }

    /// Parses the string whose opening quote is at `index` into UTF-8
    /// bytes. With `byteEscapes`, \u0080-\u00FF stand for single raw
    /// bytes: the event encoder's way of writing bytes of a comm that are
    /// not UTF-8.
    mutating func parseStringBytes(byteEscapes: Bool) throws(JSONError) -> [UInt8] {
        let opening = index
        index += 1
        var output: [UInt8] = []
        while true {
            guard let byte = current else {
                throw unexpected("'\"' to end the string that starts at column \(opening + 1)")
            }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return output
            case UInt8(ascii: "\\"):
                try parseEscape(into: &output, byteEscapes: byteEscapes)
            case 0..<0x20:
                throw error("expected an escape such as \\u00\(hexByte(byte)) for control character U+00\(hexByte(byte)) in a string", at: index)
            case 0x20..<0x80:
                output.append(byte)
                index += 1
            default:
                let length = try utf8SequenceLength(at: index)
                output.append(contentsOf: bytes[index..<(index + length)])
                index += length
            }
        }
    }

    private mutating func parseEscape(into output: inout [UInt8], byteEscapes: Bool) throws(JSONError) {
        let backslash = index
        index += 1
        guard let letter = current else { throw unexpected("an escape character after '\\'") }
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(letter)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            index += 1
            let unit = try parseHex4()
            switch unit {
            case 0xD800...0xDBFF:
                let low = try parseLowSurrogate(after: unit)
                appendUTF8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), to: &output)
            case 0xDC00...0xDFFF:
                throw error("unpaired low surrogate \\u\(hexDigits(unit, count: 4)) (expected a high surrogate \\uD800-\\uDBFF before it)", at: backslash)
            case 0x80...0xFF where byteEscapes:
                output.append(UInt8(unit))
            default:
                appendUTF8(unit, to: &output)
            }
            return
        default:
            throw unexpected("one of \" \\ / b f n r t u after '\\'")
        }
        index += 1
    }

    /// The \uDC00-\uDFFF escape that must follow a high surrogate.
    private mutating func parseLowSurrogate(after high: UInt32) throws(JSONError) -> UInt32 {
        let escape = index
        guard current == UInt8(ascii: "\\"), escape + 1 < bytes.count, bytes[escape + 1] == UInt8(ascii: "u") else {
            throw error("expected a low surrogate escape \\uDC00-\\uDFFF after the high surrogate \\u\(hexDigits(high, count: 4))", at: escape)
        }
        index += 2
        let low = try parseHex4()
        guard (0xDC00...0xDFFF).contains(low) else {
            throw error("expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\u\(hexDigits(high, count: 4)), got \\u\(hexDigits(low, count: 4))", at: escape)
        }
        return low
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = hexDigitValue(byte) else { throw unexpected("4 hex digits after '\\u'") }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Length of the well-formed UTF-8 sequence at `start` (lead byte >= 0x80).
    private func utf8SequenceLength(at start: Int) throws(JSONError) -> Int {
        let lead = bytes[start]
        let length: Int
        switch lead {
        case 0x80...0xBF: throw error("invalid UTF-8: unexpected continuation byte 0x\(hexByte(lead))", at: start)
        case 0xC0, 0xC1: throw error("invalid UTF-8: overlong encoding (lead byte 0x\(hexByte(lead)))", at: start)
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        case 0xF5...0xF7: throw error("invalid UTF-8: code point above U+10FFFF (lead byte 0x\(hexByte(lead)))", at: start)
        default: throw error("invalid UTF-8: byte 0x\(hexByte(lead)) never occurs in UTF-8", at: start)
        }
        for offset in 1..<length {
            guard start + offset < bytes.count, bytes[start + offset] & 0xC0 == 0x80 else {
                throw error("invalid UTF-8: truncated sequence after lead byte 0x\(hexByte(lead)) (expected a continuation byte 0x80-0xBF)", at: start + offset)
            }
        }
        let second = bytes[start + 1]
        switch lead {
        case 0xE0 where second < 0xA0, 0xF0 where second < 0x90:
            throw error("invalid UTF-8: overlong encoding (lead byte 0x\(hexByte(lead)))", at: start)
        case 0xED where second >= 0xA0:
            throw error("invalid UTF-8: encoded surrogate (U+D800-U+DFFF are not characters)", at: start)
        case 0xF4 where second >= 0x90:
            throw error("invalid UTF-8: code point above U+10FFFF", at: start)
        default:
            return length
        }
    }
}

/// Appends a scalar value known to be valid (not a surrogate, <= U+10FFFF).
private func appendUTF8(_ value: UInt32, to output: inout [UInt8]) {
    guard let scalar = Unicode.Scalar(value) else { return }
    UTF8.encode(scalar) { output.append($0) }
}
