#if canImport(Glibc)
import Glibc
#endif
import ProbeEvents

/// Reads the agent's own event lines without building a JSON tree: one pass
/// notes where each key's value is, then EventLineDecoder reads the event
/// from those places exactly as it reads the general parser's tree.
///
/// It takes only the plain layout the agent writes: one flat object, no
/// whitespace, strings of ASCII without escapes or control bytes, integers as bare
/// digits. For anything else, and for any value the decoder would refuse,
/// it answers nil and the general parser reads the line (and reports its
/// errors), so a line decodes to the same event either way.
struct AgentLineScanner {
    /// What the scan found: the event, and the drop reason's name when the
    /// line is a kernel drop.
    struct Scanned {
        var event: ProbeEvent
        var dropReasonName: String?
    }

    /// Where the scan keeps what it found (shared by copies of the scanner,
    /// like the decoder that holds it: one reader uses it at a time).
    private let places = ValuePlaces()

    /// The event on the line, or nil when the line is not in the agent's
    /// plain layout, is not an event line, or would not decode.
    func scan(_ bytes: UnsafeRawBufferPointer) -> Scanned? {
        guard let base = bytes.baseAddress, bytes.count >= 2 else { return nil }
        let text = base.assumingMemoryBound(to: UInt8.self)
        guard let seen = places.locateValues(text, count: bytes.count) else { return nil }
        let line = ScannedLine(text: bytes, seen: seen, places: places.values)
        guard let type = line.lineType, let event = try? EventLineDecoder.decode(line, type: type) else { return nil }
        let reason = event.kind == .drop ? try? line[.reason]?.string() : nil
        return Scanned(event: event, dropReasonName: reason)
    }
}

/// Per key (EventKey.rawValue): where its value starts (its first byte,
/// the quote of a string) and ends (one past it); and the keys the decoder
/// does not read (a process's identity fields), kept only to find
/// duplicates. Fixed buffers, so a scan allocates nothing.
private final class ValuePlaces {
    static let keyCount = EventKey.allCases.count
    /// A line with more keys the decoder does not read goes to the parser.
    static let otherKeyLimit = 24
    /// `"key":` as little-endian words, zero-padded: the longest is 20 bytes.
    static let wordsPerKey = 3

    /// Start and end of each key's value: 2 × keyCount.
    let values = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * keyCount)
    /// Start and end of each other key: 2 × otherKeyLimit.
    private let otherKeys = UnsafeMutablePointer<Int>.allocate(capacity: 2 * otherKeyLimit)
    /// Each key as `"key":`, in words, with the mask of each word's bytes
    /// and the length; and the keys alone, one after the other.
    private let quotedKeyWords = UnsafeMutablePointer<UInt64>.allocate(capacity: wordsPerKey * keyCount)
    private let quotedKeyMasks = UnsafeMutablePointer<UInt64>.allocate(capacity: wordsPerKey * keyCount)
    private let quotedKeyLengths = UnsafeMutablePointer<Int>.allocate(capacity: keyCount)
    private let keyBytes: [UInt8]
    private let keyStarts: [Int]

    init() {
        var keyBytes: [UInt8] = []
        var keyStarts = [0]
        for key in EventKey.allCases {
            let name = UnsafeRawBufferPointer(start: key.name.utf8Start, count: key.name.utf8CodeUnitCount)
            keyBytes += name
            keyStarts.append(keyBytes.count)
            let quoted = [UInt8(ascii: "\"")] + name + [UInt8(ascii: "\""), UInt8(ascii: ":")]
            precondition(quoted.count <= 8 * Self.wordsPerKey, "an event key is longer than the scanner compares")
            quotedKeyLengths[key.rawValue] = quoted.count
            for word in 0..<Self.wordsPerKey {
                var value: UInt64 = 0
                var mask: UInt64 = 0
                for (offset, byte) in quoted.dropFirst(8 * word).prefix(8).enumerated() {
                    value |= UInt64(byte) << (8 * offset)
                    mask |= 0xFF << (8 * offset)
                }
                quotedKeyWords[Self.wordsPerKey * key.rawValue + word] = value
                quotedKeyMasks[Self.wordsPerKey * key.rawValue + word] = mask
            }
        }
        self.keyBytes = keyBytes
        self.keyStarts = keyStarts
    }

    deinit {
        values.deallocate()
        otherKeys.deallocate()
        quotedKeyWords.deallocate()
        quotedKeyMasks.deallocate()
        quotedKeyLengths.deallocate()
    }

    /// One pass over the line: the set of keys found (bit per EventKey),
    /// their values' places in `values`; nil when the line is not in the
    /// plain layout or repeats a key.
    func locateValues(_ text: UnsafePointer<UInt8>, count: Int) -> UInt64? {
        guard text[0] == UInt8(ascii: "{"), text[count - 1] == UInt8(ascii: "}") else { return nil }
        var seen: UInt64 = 0
        var otherKeyCount = 0
        var expectedKey = 0
        var index = 1
        while true {
            // The key the agent writes next, quotes and colon included; any
            // other key is read as a string and looked up.
            var known = -1
            // (The agent leaves out the keys a line does not use: try those after it.)
            var candidate = expectedKey
            while candidate < Self.keyCount {
                if startsWithQuotedKey(candidate, text + index, available: count - index) {
                    known = candidate
                    index += quotedKeyLengths[candidate]
                    break
                }
                candidate &+= 1
            }
            if known < 0 {
                guard text[index] == UInt8(ascii: "\""),
                      let keyEnd = Self.plainStringEnd(text, from: index + 1, count: count),
                      keyEnd + 1 < count, text[keyEnd + 1] == UInt8(ascii: ":") else { return nil }
                let keyStart = index + 1
                index = keyEnd + 2
                if let found = knownKey(text + keyStart, length: keyEnd - keyStart) {
                    known = found
                } else {
                    guard otherKeyCount < Self.otherKeyLimit else { return nil }
                    for other in 0..<otherKeyCount {
                        let start = otherKeys[2 * other], end = otherKeys[2 * other + 1]
                        guard end - start != keyEnd - keyStart || memcmp(text + start, text + keyStart, end - start) != 0 else {
                            return nil
                        }
                    }
                    otherKeys[2 * otherKeyCount] = keyStart
                    otherKeys[2 * otherKeyCount + 1] = keyEnd
                    otherKeyCount += 1
                }
            }
            let valueStart = index
            guard index < count else { return nil }
            if text[index] == UInt8(ascii: "\"") {
                guard let end = Self.plainStringEnd(text, from: index + 1, count: count) else { return nil }
                index = end + 1
            } else {
                if text[index] == UInt8(ascii: "-") { index += 1 }
                guard index < count, isDecimalDigit(text[index]) else { return nil }
                if text[index] == UInt8(ascii: "0") {
                    index += 1
                } else {
                    while index < count, isDecimalDigit(text[index]) { index += 1 }
                }
            }
            // The last byte is the '}', so a value never reaches the end.
            guard index < count else { return nil }
            if known >= 0 {
                let bit: UInt64 = 1 &<< UInt64(known)
                guard seen & bit == 0 else { return nil }
                seen |= bit
                values[2 &* known] = Int32(truncatingIfNeeded: valueStart)
                values[2 &* known &+ 1] = Int32(truncatingIfNeeded: index)
                expectedKey = known &+ 1
            }
            let separator = text[index]
            index += 1
            if separator == UInt8(ascii: ",") { continue }
            guard separator == UInt8(ascii: "}"), index == count else { return nil }
            return seen
        }
    }

    /// Whether `text` starts with `"key":` for EventKey `key`: a word
    /// compare each eight bytes where the line has them.
    @inline(__always)
    private func startsWithQuotedKey(_ key: Int, _ text: UnsafePointer<UInt8>, available: Int) -> Bool {
        let length = quotedKeyLengths[key]
        guard available > length else { return false }
        var offset = 0
        var word = Self.wordsPerKey &* key
        while offset < length {
            let loaded: UInt64
            if available - offset >= 8 {
                loaded = UnsafeRawPointer(text + offset).loadUnaligned(as: UInt64.self)
            } else {
                var bytes: UInt64 = 0
                for position in 0..<(length - offset) { bytes |= UInt64(text[offset + position]) << (8 * position) }
                loaded = bytes
            }
            guard loaded & quotedKeyMasks[word] == quotedKeyWords[word] else { return false }
            offset &+= 8
            word &+= 1
        }
        return true
    }

    /// The index of the quote that closes a string starting at `start`, when
    /// every byte before it is ASCII, not a control byte and not a backslash.
    /// Eight bytes at a time while none of them is special.
    private static func plainStringEnd(_ text: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int? {
        var index = start
        while index &+ 8 <= count {
            let word = UnsafeRawPointer(text + index).loadUnaligned(as: UInt64.self)
            guard !hasSpecialByte(word) else { break }
            index &+= 8
        }
        while index < count {
            let byte = text[index]
            if byte == UInt8(ascii: "\"") { return index }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            index &+= 1
        }
        return nil
    }

    /// Whether any byte of `word` is a quote, a backslash, a control byte
    /// or not ASCII (the bit tricks of "Bit Twiddling Hacks": a byte below n
    /// sets its high bit in (word - n per byte) & ~word).
    @inline(__always)
    private static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highs }
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = hasZeroByte(word ^ (ones &* 0x22))
        let backslash = hasZeroByte(word ^ (ones &* 0x5C))
        return (control | quote | backslash | (word & highs)) != 0
    }

    /// The EventKey spelled by a key that is not the expected one.
    private func knownKey(_ key: UnsafePointer<UInt8>, length: Int) -> Int? {
        keyBytes.withUnsafeBufferPointer { keyBytes in
            (0..<Self.keyCount).first {
                keyStarts[$0 + 1] - keyStarts[$0] == length && memcmp(keyBytes.baseAddress! + keyStarts[$0], key, length) == 0
            }
        }
    }
}

/// A scanned line, read by EventLineDecoder through EventLineFields.
private struct ScannedLine: EventLineFields {
    let text: UnsafeRawBufferPointer
    let seen: UInt64
    /// ValuePlaces.values.
    let places: UnsafePointer<Int32>

    subscript(key: EventKey) -> ScannedField? {
        guard seen & (1 << key.rawValue) != 0 else { return nil }
        return ScannedField(key: key, text: text, start: Int(places[2 * key.rawValue]), end: Int(places[2 * key.rawValue + 1]))
    }

    /// The event type named by `event_type`, when it is one.
    var lineType: EventLineDecoder.LineType? {
        guard let field = self[.eventType], field.isString else { return nil }
        return EventLineDecoder.LineType.allCases.first { field.contentEquals($0.name) }
    }
}

/// A value of the plain layout: a string without escapes, or bare digits.
private struct ScannedField: EventFieldReading {
    let key: EventKey
    let text: UnsafeRawBufferPointer
    /// The value's first byte (a string's opening quote) and one past its last.
    let start: Int
    let end: Int

    var isString: Bool { text[start] == UInt8(ascii: "\"") }

    /// A string's bytes between its quotes.
    var content: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: text[start + 1..<end - 1]) }

    func contentEquals(_ name: StaticString) -> Bool {
        name.utf8CodeUnitCount == end - start - 2 && memcmp(name.utf8Start, text.baseAddress! + start + 1, end - start - 2) == 0
    }

    func failure(_ message: String) -> LineError {
        LineError(column: start + 1, message: "\(quoted(key.text)) \(message)")
    }

    func checkString() throws(LineError) {
        guard isString else { throw failure("must be a string") }
    }

    func string() throws(LineError) -> String {
        try checkString()
        return String(decoding: content, as: UTF8.self)
    }

    func withStringBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) throws(LineError) -> Result {
        try checkString()
        return body(content)
    }

    func integer<T: FixedWidthInteger>() throws(LineError) -> T {
        guard !isString else { throw failure("must be a number") }
        // The scan let through only an optional '-' and digits.
        let digits = text.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let negative = digits[start] == UInt8(ascii: "-")
        var index = negative ? start + 1 : start
        var magnitude: UInt64 = 0
        if end - index <= 19 {
            while index < end {
                magnitude = magnitude &* 10 &+ UInt64(digits[index] &- UInt8(ascii: "0"))
                index &+= 1
            }
        } else {
            while index < end {
                let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(digits[index] &- UInt8(ascii: "0")))
                guard !overflow, !carry else { throw failure("must fit 64 bits") }
                magnitude = sum
                index &+= 1
            }
        }
        let exact: T?
        if !negative {
            exact = T(exactly: magnitude)
        } else if T.isSigned, magnitude <= UInt64(Int64.max) + 1 {
            exact = T(exactly: magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        } else {
            exact = nil
        }
        guard let exact else { throw failure("must be an integer from \(T.min) to \(T.max)") }
        return exact
    }

    func named<T: NamedValue>() throws(LineError) -> T {
        try checkString()
        guard let found = T.namedValues.first(where: { contentEquals($0.name) }) else {
            throw failure("must be one of \(T.allNames)")
        }
        return found
    }

    func address() throws(LineError) -> IPAddress {
        try checkString()
        guard let address = IPAddress(utf8: content) else { throw failure("must be an IPv4 or IPv6 address") }
        return address
    }

    func command() throws(LineError) -> Command {
        try checkString()
        // The scan let no NUL through; the general reading rejects longer ones.
        guard end - start - 2 <= 15 else { throw failure("must be at most 15 bytes") }
        return Command(bytes: content)
    }
}
