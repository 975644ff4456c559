/// Pieces of error messages that quote input: short, escaped, and on one
/// line, so a message stays readable whatever the trace contained.

/// `text` in double quotes, control characters escaped, cut after 40 characters.
func quoted(_ text: String) -> String {
    var result = "\""
    for (count, scalar) in text.unicodeScalars.enumerated() {
        if count == 40 {
            result += "…"
            break
        }
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F: result += "\\u00\(hexByte(UInt8(scalar.value)))"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// Two uppercase hex digits.
func hexByte(_ byte: UInt8) -> String {
    hexDigits(UInt32(byte), count: 2)
}

/// `count` uppercase hex digits of `value`.
func hexDigits(_ value: UInt32, count: Int) -> String {
    let digits = Array("0123456789ABCDEF")
    return String((0..<count).reversed().map { digits[Int(value >> UInt32(4 * $0)) & 0xF] })
}

/// `text` cut after 40 characters (a number can be thousands of digits).
func abbreviated(_ text: String) -> String {
    text.count <= 40 ? text : text.prefix(40) + "…"
}
