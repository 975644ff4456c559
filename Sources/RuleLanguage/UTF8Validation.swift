/// The byte offset of the first byte that is not part of valid UTF-8, or nil.
/// libyaml would report such a byte without a useful position, so the loader
/// checks first and reports the exact line and column itself.
func firstInvalidUTF8Offset(in bytes: [UInt8]) -> Int? {
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): offset += UTF8.width(scalar)
        case .emptyInput: return nil
        case .error: return offset
        }
    }
}
