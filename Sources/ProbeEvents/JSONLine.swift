/// Raw memory for a JSONLineWriter. Immutable (a bigger buffer replaces
/// it), so reading its fields costs no exclusivity check.
final class ByteStorage {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }
}

/// Builds one JSON object per line straight into a byte buffer: no
/// Foundation, no intermediate strings, nothing allocated per event once
/// the buffer has grown. The hot path is a store and an increment per
/// byte, and runs of plain bytes are copied whole. A writer owns its
/// bytes: copy one only to hand it over, never to write to both.
public struct JSONLineWriter {
    private var storage: ByteStorage
    public private(set) var count = 0
    private var needsComma = false

    public init(capacity: Int = 64 * 1024) {
        storage = ByteStorage(capacity: max(capacity, 64))
    }

    private var base: UnsafeMutablePointer<UInt8> { storage.base }

    public var isEmpty: Bool { count == 0 }

    /// A copy of the bytes written (tests, small outputs).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The bytes written, without a copy.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        if count == storage.capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func write(_ source: UnsafeRawPointer, count length: Int) {
        if count + length > storage.capacity { grow(to: count + length) }
        (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: length)
        count += length
    }

    /// Short constant strings (keys, names) are copied byte by byte: a
    /// memcpy call costs more than the copy.
    @inline(__always)
    mutating func write(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        if count + length > storage.capacity { grow(to: count + length) }
        let source = text.utf8Start
        let destination = storage.base + count
        for index in 0..<length { destination[index] = source[index] }
        count += length
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = storage.capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = ByteStorage(capacity: newCapacity)
        bigger.base.update(from: base, count: count)
        storage = bigger
    }

    /// Appends a line kept from elsewhere, as it was, and its newline.
    public mutating func appendRawLine(_ line: [UInt8]) {
        line.withUnsafeBytes { if let address = $0.baseAddress { write(address, count: $0.count) } }
        write(UInt8(ascii: "\n"))
    }

    /// Appends fields encoded elsewhere, each with its leading comma
    /// (`,"key":value...`): a process's identity, made once per process.
    public mutating func appendFields(_ fields: [UInt8]) {
        guard !fields.isEmpty else { return }
        fields.withUnsafeBytes { write($0.baseAddress!, count: $0.count) }
        needsComma = true
    }

    /// Appends bytes encoded elsewhere (a JSON value), as they are.
    mutating func appendBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { if let address = $0.baseAddress { write(address, count: $0.count) } }
    }

    /// Appends the lines another writer built.
    public mutating func append(_ other: JSONLineWriter) {
        write(other.storage.base, count: other.count)
    }

    public mutating func removeAll() {
        count = 0
    }

    public mutating func beginObject() {
        open(UInt8(ascii: "{"))
    }

    public mutating func endLine() {
        write(UInt8(ascii: "}"))
        write(UInt8(ascii: "\n"))
    }

    public mutating func key(_ name: StaticString) {
        let length = name.utf8CodeUnitCount
        if count + length + 4 > storage.capacity { grow(to: count + length + 4) }
        var destination = storage.base + count
        if needsComma {
            destination[0] = UInt8(ascii: ",")
            destination += 1
        }
        destination[0] = UInt8(ascii: "\"")
        let source = name.utf8Start
        for index in 0..<length { destination[1 + index] = source[index] }
        destination[length + 1] = UInt8(ascii: "\"")
        destination[length + 2] = UInt8(ascii: ":")
        count += length + 3 + (needsComma ? 1 : 0)
        needsComma = true
    }

    /// A key known only at run time (a label or evidence name), escaped.
    public mutating func key(_ name: String) {
        if needsComma { write(UInt8(ascii: ",")) }
        needsComma = true
        appendString(name)
        write(UInt8(ascii: ":"))
    }

    /// Opens an array as the value of the last key.
    public mutating func beginArray() {
        open(UInt8(ascii: "["))
    }

    public mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    /// Opens an object as the next element of an array.
    public mutating func beginArrayObject() {
        if needsComma { write(UInt8(ascii: ",")) }
        open(UInt8(ascii: "{"))
    }

    /// Opens an object as the value of the last key.
    public mutating func beginNestedObject() {
        open(UInt8(ascii: "{"))
    }

    public mutating func endNestedObject() {
        close(UInt8(ascii: "}"))
    }

    /// An opening bracket: the first member follows without a comma.
    private mutating func open(_ bracket: UInt8) {
        write(bracket)
        needsComma = false
    }

    /// A closing bracket: what follows it in its parent needs a comma.
    private mutating func close(_ bracket: UInt8) {
        write(bracket)
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
        write(value ? "true" : "false")
    }

    public mutating func field(_ name: StaticString, _ value: UInt64) {
        key(name)
        appendUnsigned(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int64) {
        key(name)
        if value < 0 { write(UInt8(ascii: "-")) }
        appendUnsigned(value.magnitude)
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
            write(UInt8(ascii: "0"))
            return
        }
        // Not .rounded(): it calls libm's round(), which a static release
        // link does not resolve.
        let thousandths = value.magnitude * 1000 + 0.5
        guard thousandths < 1e18 else {
            appendUnsigned(UInt64(1e18) / 1000)
            return
        }
        let scaled = UInt64(thousandths)
        if value < 0 && scaled != 0 { write(UInt8(ascii: "-")) }
        appendUnsigned(scaled / 1000)
        let fraction = scaled % 1000
        if fraction != 0 {
            write(UInt8(ascii: "."))
            var digits = fraction
            var divisor: UInt64 = 100
            while digits != 0 {
                write(UInt8(ascii: "0") &+ UInt8(digits / divisor))
                digits %= divisor
                divisor /= 10
            }
        }
    }

    /// A number written as a JSON string ("value":"3" in the seed's line).
    public mutating func field(_ name: StaticString, decimalString value: UInt64) {
        key(name)
        write(UInt8(ascii: "\""))
        appendUnsigned(value)
        write(UInt8(ascii: "\""))
    }

    /// A string known to need no escaping (names from fixed tables).
    public mutating func field(_ name: StaticString, plain value: StaticString) {
        key(name)
        write(UInt8(ascii: "\""))
        write(value)
        write(UInt8(ascii: "\""))
    }

    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        appendString(value)
    }

    public mutating func field(_ name: StaticString, _ value: IPAddress) {
        key(name)
        write(UInt8(ascii: "\""))
        appendAddress(value)
        write(UInt8(ascii: "\""))
    }

    public mutating func field(_ name: StaticString, _ value: Command) {
        key(name)
        value.withBytes { appendEscaped($0) }
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        write(value ? "true" : "false")
    }

    /// The text between `prefix` and `suffix` is written as is (an entity id
    /// like network-pid-1024): both are plain ASCII.
    public mutating func field(_ name: StaticString, prefix: StaticString, number: UInt64) {
        key(name)
        write(UInt8(ascii: "\""))
        write(prefix)
        appendUnsigned(number)
        write(UInt8(ascii: "\""))
    }

    /// Appends a JSON string value (after `key`).
    public mutating func appendString(_ value: String) {
        var value = value
        value.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `text` as a JSON string. Bytes that are not valid UTF-8 (a
    /// comm is raw kernel bytes) are written as \u00XX, so every line is
    /// valid JSON and nothing is silently lost. Runs of bytes that need no
    /// escaping are copied whole.
    mutating func appendEscaped(_ text: UnsafeRawBufferPointer) {
        write(UInt8(ascii: "\""))
        var index = 0
        var runStart = 0
        func flushRun(_ writer: inout JSONLineWriter) {
            if index > runStart, let address = text.baseAddress { writer.write(address + runStart, count: index - runStart) }
        }
        while index < text.count {
            // Eight plain bytes at a time while they last (messages, names).
            if index + 8 <= text.count && isPlainASCII(UInt64(littleEndian: text.loadUnaligned(fromByteOffset: index, as: UInt64.self))) {
                index += 8
                continue
            }
            let byte = text[index]
            if byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            if byte >= 0x80 {
                let length = validUTF8SequenceLength(text, at: index)
                if length > 0 {
                    index += length
                    continue
                }
            }
            flushRun(&self)
            switch byte {
            case UInt8(ascii: "\""): write("\\\"")
            case UInt8(ascii: "\\"): write("\\\\")
            case UInt8(ascii: "\n"): write("\\n")
            case UInt8(ascii: "\t"): write("\\t")
            default: appendUnicodeEscape(byte)
            }
            index += 1
            runStart = index
        }
        flushRun(&self)
        write(UInt8(ascii: "\""))
    }

    private mutating func appendUnicodeEscape(_ byte: UInt8) {
        let digits: StaticString = "0123456789abcdef"
        write("\\u00")
        write(digits.utf8Start[Int(byte >> 4)])
        write(digits.utf8Start[Int(byte & 0xf)])
    }

    // MARK: Runs of a line, for encoders in other modules that write a
    // whole line themselves (no `field` calls in between): each checks
    // for room once and writes without further checks.

    /// Constant text, such as a run of keys and fixed values: `","pid":`.
    public mutating func appendRaw(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount)
        put(text)
    }

    /// `value` in decimal.
    public mutating func appendUnsigned(_ value: UInt64) {
        reserve(20)
        putDecimal(value)
    }

    /// The text of `address`, without quotes.
    public mutating func appendAddress(_ address: IPAddress) {
        reserve(40)
        putText(address)
    }

    /// `command` as a JSON string.
    public mutating func appendString(_ command: Command) {
        reserve(96)
        putString(command)
    }

    // MARK: Unchecked writes: an encoder reserves a line's room once, then
    // puts its pieces without a capacity check each.

    /// Makes sure `length` more bytes fit.
    @inline(__always)
    mutating func reserve(_ length: Int) {
        if count + length > storage.capacity { grow(to: count + length) }
    }

    /// Constant text (a run of keys and fixed values): a copy of a length
    /// known at compile time, which the compiler turns into a few moves.
    @inline(__always)
    mutating func put(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        UnsafeMutableRawPointer(storage.base + count).copyMemory(from: text.utf8Start, byteCount: length)
        count += length
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        storage.base[count] = byte
        count += 1
    }

    /// Up to 40 bytes held in five words, of which the first `length`
    /// count: all five are stored and the count moves by `length`.
    @inline(__always)
    mutating func put(_ words: (UInt64, UInt64, UInt64, UInt64, UInt64), length: Int) {
        let destination = UnsafeMutableRawPointer(storage.base + count)
        destination.storeBytes(of: words.0, as: UInt64.self)
        (destination + 8).storeBytes(of: words.1, as: UInt64.self)
        (destination + 16).storeBytes(of: words.2, as: UInt64.self)
        (destination + 24).storeBytes(of: words.3, as: UInt64.self)
        (destination + 32).storeBytes(of: words.4, as: UInt64.self)
        count += length
    }

    /// Repeats up to 16 bytes written at `start` (a number written twice),
    /// as two whole words.
    @inline(__always)
    mutating func putCopy(from start: Int, count length: Int) {
        let source = UnsafeRawPointer(storage.base + start)
        put((source.loadUnaligned(as: UInt64.self), source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)), length: length)
    }

    /// Copies `length` bytes written at `start` out, to cache them.
    func copyBytes(from start: Int, count length: Int, to destination: UnsafeMutablePointer<UInt8>) {
        destination.update(from: storage.base + start, count: length)
    }

    /// Short text whose length is known only at run time (a name from a
    /// table), byte by byte: a memcpy call costs more than the copy.
    @inline(__always)
    mutating func putShort(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        let source = text.utf8Start
        let destination = storage.base + count
        for index in 0..<length { destination[index] = source[index] }
        count += length
    }

    /// An address's text (at most 39 bytes), straight into the line.
    mutating func putText(_ address: IPAddress) {
        guard address.isIPv4Mapped else {
            putIPv6(address)
            return
        }
        let quad = address.low
        putOctet(UInt8(truncatingIfNeeded: quad >> 24))
        put(UInt8(ascii: "."))
        putOctet(UInt8(truncatingIfNeeded: quad >> 16))
        put(UInt8(ascii: "."))
        putOctet(UInt8(truncatingIfNeeded: quad >> 8))
        put(UInt8(ascii: "."))
        putOctet(UInt8(truncatingIfNeeded: quad))
    }

    /// RFC 5952: lowercase hex groups without leading zeros, the first
    /// longest run of two or more zero groups as "::".
    private mutating func putIPv6(_ address: IPAddress) {
        let high = address.high, low = address.low
        func group(_ index: Int) -> UInt16 {
            UInt16(truncatingIfNeeded: (index < 4 ? high : low) >> UInt64(48 - 16 * (index & 3)))
        }
        var bestStart = -1, bestLength = 1, runStart = -1
        for index in 0..<8 {
            guard group(index) == 0 else {
                runStart = -1
                continue
            }
            if runStart < 0 { runStart = index }
            if index - runStart + 1 > bestLength {
                bestStart = runStart
                bestLength = index - runStart + 1
            }
        }
        let digits = hexDigits.utf8Start
        var index = 0
        while index < 8 {
            if index == bestStart {
                put(UInt8(ascii: ":"))
                if index == 0 { put(UInt8(ascii: ":")) }
                index += bestLength
                continue
            }
            let value = Int(group(index))
            if value >= 0x1000 { put(digits[value >> 12]) }
            if value >= 0x100 { put(digits[(value >> 8) & 0xf]) }
            if value >= 0x10 { put(digits[(value >> 4) & 0xf]) }
            put(digits[value & 0xf])
            if index < 7 { put(UInt8(ascii: ":")) }
            index += 1
        }
    }

    @inline(__always)
    private mutating func putOctet(_ value: UInt8) {
        let pairs = digitPairs.utf8Start
        var rest = Int(value)
        if rest >= 100 {
            put(UInt8(ascii: "0") &+ UInt8(rest / 100))
            rest %= 100
        } else if rest < 10 {
            put(UInt8(ascii: "0") &+ UInt8(rest))
            return
        }
        put(pairs[rest &* 2])
        put(pairs[rest &* 2 &+ 1])
    }

    /// Up to 16 bytes held in two words, of which the first `length` count:
    /// both words are stored whole and the count moves by `length`.
    @inline(__always)
    mutating func put(_ words: (UInt64, UInt64), length: Int) {
        let destination = UnsafeMutableRawPointer(storage.base + count)
        destination.storeBytes(of: words.0, as: UInt64.self)
        (destination + 8).storeBytes(of: words.1, as: UInt64.self)
        count += length
    }

    /// `value` in decimal (at most 20 bytes), four digits a step.
    /// Inlined: about a dozen calls per event line, most for short numbers.
    @inline(__always)
    mutating func putDecimal(_ value: UInt64) {
        if value < 10 {
            put(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        let length = decimalLength(value)
        var end = UnsafeMutableRawPointer(storage.base + count + length)
        var remaining = value
        // Four digits a step: one 64-bit division, then two pairs from a
        // 32-bit remainder.
        while remaining >= 10_000 {
            let four = UInt32(truncatingIfNeeded: remaining % 10_000)
            remaining /= 10_000
            end -= 4
            end.storeBytes(of: digitPair(four / 100), as: UInt16.self)
            end.storeBytes(of: digitPair(four % 100), toByteOffset: 2, as: UInt16.self)
        }
        let rest = UInt32(truncatingIfNeeded: remaining)
        if rest >= 100 {
            end -= 2
            end.storeBytes(of: digitPair(rest % 100), as: UInt16.self)
        }
        let last = rest >= 100 ? rest / 100 : rest
        if last >= 10 {
            end.storeBytes(of: digitPair(last), toByteOffset: -2, as: UInt16.self)
        } else {
            end.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: last), toByteOffset: -1, as: UInt8.self)
        }
        count += length
    }

    /// The two digits of `value` (below 100), as they lie in memory.
    @inline(__always)
    private func digitPair(_ value: UInt32) -> UInt16 {
        UnsafeRawPointer(digitPairs.utf8Start).loadUnaligned(fromByteOffset: Int(value) &* 2, as: UInt16.self)
    }

    /// A command name as a JSON string. The usual comm (printable ASCII
    /// without quote or backslash) is checked and copied a word at a time;
    /// any other goes through `appendEscaped`, which may grow the buffer.
    mutating func putString(_ command: Command) {
        let (first, second) = command.bytes
        let length = command.length
        // Only the name's bytes are checked: the others count as plain 'A's.
        func plain(_ word: UInt64, bytes: Int) -> UInt64 {
            let word = UInt64(littleEndian: word)
            guard bytes < 8 else { return word }
            let kept: UInt64 = bytes <= 0 ? 0 : (1 << (UInt64(bytes) * 8)) &- 1
            return word & kept | 0x4141_4141_4141_4141 & ~kept
        }
        guard isPlainASCII(plain(first, bytes: length)) && isPlainASCII(plain(second, bytes: length - 8)) else {
            command.withBytes { appendEscaped($0) }
            return
        }
        put(UInt8(ascii: "\""))
        put((first, second), length: length)
        put(UInt8(ascii: "\""))
    }
}

/// "00" "01" … "99": the two digits of every value below 100.
private let digitPairs: StaticString = """
    00010203040506070809101112131415161718192021222324252627282930313233343536373839\
    40414243444546474849505152535455565758596061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899
    """

private let hexDigits: StaticString = "0123456789abcdef"

/// How many decimal digits `value` has: log10 from the bit length
/// (bits × 1233 / 4096 is log10(2^bits), rounded down), then one compare
/// with a power of ten, where a loop of divisions cost one per four digits.
/// (`| 1`: 0 has one digit, and no other value changes sides.)
@inline(__always)
func decimalLength(_ value: UInt64) -> Int {
    let word = value | 1
    let guess = ((UInt64.bitWidth - word.leadingZeroBitCount) &* 1233) >> 12
    return powersOfTen.withUnsafeBufferPointer { guess + (word >= $0[guess] ? 1 : 0) }
}

/// 10^0 … 10^19: every power of ten a UInt64 holds (a literal, so that it
/// is laid out at compile time).
private let powersOfTen: [UInt64] = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
    10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000,
    1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000,
    1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
]

/// True when none of the eight bytes needs escaping in a JSON string:
/// each is printable ASCII (0x20...0x7f) and neither '"' nor '\\'.
@inline(__always)
func isPlainASCII(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    func hasZeroByte(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
    let control = (word &- ones &* 0x20) & ~word & highs != 0  // some byte < 0x20
    return word & highs == 0 && !control
        && !hasZeroByte(word ^ (ones &* 0x22)) && !hasZeroByte(word ^ (ones &* 0x5c))
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
