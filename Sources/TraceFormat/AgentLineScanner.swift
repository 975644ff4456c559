#if canImport(Glibc)
import Glibc
#endif
import ProbeEvents

/// Reads the agent's own event lines in one pass, without building a JSON
/// tree: nine lines in ten of a day-long trace are these.
///
/// It takes a line only in the exact layout EventLineEncoder writes — its
/// keys in its order, no whitespace, strings of ASCII without escapes or
/// control bytes, integers as bare digits, a process's identity fields
/// where the encoder puts them — and reads each value as EventLineDecoder
/// does. For anything else, including any value the decoder would refuse,
/// it answers nil and the JSON parser reads the line (and reports its
/// errors). AgentLineScannerTests hold the two readings to the same events.
struct AgentLineScanner {
    /// What a scanned line holds besides its event.
    struct Scanned {
        /// The drop reason's name when the line is a kernel drop (its bytes
        /// in the scanned line: a String is made only for a new one).
        var dropReasonName: UnsafeRawBufferPointer?
    }

    /// Shared by copies of the scanner, like the decoder that holds it:
    /// one reader uses it at a time.
    private let tables = ScanTables()

    /// The line's event, written into `event` (in place: a ProbeEvent is
    /// large); nil when the line is not in the plain layout, and `event`
    /// is then undefined.
    func scan(_ bytes: UnsafeRawBufferPointer, into event: inout ProbeEvent) -> Scanned? {
        guard let base = bytes.baseAddress, bytes.count >= 2 else { return nil }
        var line = PlainLine(text: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, tables: tables)
        return line.scanned(into: &event)
    }
}

/// The keys as the encoder writes them with the byte before (`{"ts":`,
/// `,"pid":`), as words to compare eight bytes at a time; and room for the
/// keys of identity fields.
private final class ScanTables {
    static let wordsPerKey = 3
    /// Identity fields a line may have (the launcher's and the cgroup's).
    static let otherKeyLimit = 32

    let keyWords = UnsafeMutablePointer<UInt64>.allocate(capacity: wordsPerKey * EventKey.allCases.count)
    let keyMasks = UnsafeMutablePointer<UInt64>.allocate(capacity: wordsPerKey * EventKey.allCases.count)
    let keyLengths = UnsafeMutablePointer<Int>.allocate(capacity: EventKey.allCases.count)
    /// Start and end of each identity key of the line being read.
    let otherKeys = UnsafeMutablePointer<Int>.allocate(capacity: 2 * otherKeyLimit)

    init() {
        for key in EventKey.allCases {
            let name = UnsafeRawBufferPointer(start: key.name.utf8Start, count: key.name.utf8CodeUnitCount)
            // `ts` is always the first member, every other key follows one.
            let before = key == .ts ? UInt8(ascii: "{") : UInt8(ascii: ",")
            let quoted = [before, UInt8(ascii: "\"")] + name + [UInt8(ascii: "\""), UInt8(ascii: ":")]
            precondition(quoted.count <= 8 * Self.wordsPerKey, "an event key is longer than the scanner compares")
            keyLengths[key.rawValue] = quoted.count
            for word in 0..<Self.wordsPerKey {
                var value: UInt64 = 0
                var mask: UInt64 = 0
                for (offset, byte) in quoted.dropFirst(8 * word).prefix(8).enumerated() {
                    value |= UInt64(byte) << (8 * offset)
                    mask |= 0xFF << (8 * offset)
                }
                keyWords[Self.wordsPerKey * key.rawValue + word] = value
                keyMasks[Self.wordsPerKey * key.rawValue + word] = mask
            }
        }
    }

    deinit {
        keyWords.deallocate()
        keyMasks.deallocate()
        keyLengths.deallocate()
        otherKeys.deallocate()
    }
}

/// A cursor over one line. Every reader returns nil (or false) at the first
/// byte outside the plain layout, and the line goes to the parser.
private struct PlainLine {
    let text: UnsafePointer<UInt8>
    let count: Int
    let tables: ScanTables
    /// The byte before the next member: the '{' at 0, then each ','.
    var index = 0

    init(text: UnsafePointer<UInt8>, count: Int, tables: ScanTables) {
        self.text = text
        self.count = count
        self.tables = tables
    }

    /// The line's event, read in the encoder's order (EventLineEncoder.encode).
    mutating func scanned(into event: inout ProbeEvent) -> AgentLineScanner.Scanned? {
        guard at(.ts), unsigned() != nil,
              at(.eventType), let typeName = string(), let type = lineType(typeName),
              at(.entityID), string() != nil,
              at(.pid), let pid = unsigned().flatMap(UInt32.init(exactly:)),
              at(.value), let value = string() else { return nil }
        event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        event.owner.pid = pid
        var reasonName: UnsafeRawBufferPointer?
        if type == .processExit {
            guard readCommand(into: &event), at(.cgroupID), let cgroupID = unsigned(), skipIdentityFields(),
                  at(.exitCode), let exitCode = unsigned().flatMap(UInt32.init(exactly:)) else { return nil }
            event.owner.cgroupID = cgroupID
            event.dropReason = exitCode
        } else {
            if at(.tid) {
                guard let tid = unsigned().flatMap(UInt32.init(exactly:)), readCommand(into: &event),
                      at(.uid), let uid = unsigned().flatMap(UInt32.init(exactly:)),
                      at(.cgroupID), let cgroupID = unsigned(), skipIdentityFields() else { return nil }
                event.owner.tid = tid
                event.owner.uid = uid
                event.owner.cgroupID = cgroupID
            }
            guard at(.attribution), let source: SocketOwner.Source = named(), at(.family), let family: AddressFamily = named(),
                  at(.saddr), let localAddress = address(), at(.sport), let localPort = unsigned().flatMap(UInt16.init(exactly:)),
                  at(.daddr), let remoteAddress = address(), at(.dport), let remotePort = unsigned().flatMap(UInt16.init(exactly:))
            else { return nil }
            event.owner.source = source
            event.connection = Connection(family: family, localAddress: localAddress, localPort: localPort,
                                          remoteAddress: remoteAddress, remotePort: remotePort)
            if at(.tcpState) {
                guard let state: TCPState = named() else { return nil }
                event.connection.state = state
            }
            switch type {
            case .retransmit, .failedRetransmit:
                guard let segments = EventLineDecoder.segmentCount(value), at(.cause), let cause: RetransmitCause = named(),
                      at(.caState), let caState: CongestionState = named(), readTiming(into: &event),
                      at(.packetsOut), let packetsOut = unsigned().flatMap(UInt8.init(exactly:)) else { return nil }
                event.kind = cause == .synAck ? .synAckRetransmit : .retransmit
                event.segments = segments
                event.cause = cause
                event.congestionState = caState
                event.packetsOut = packetsOut
                if type == .failedRetransmit {
                    // -errno, never 0 (EventLineDecoder.failure).
                    guard at(.error), string() != nil, at(.errno), let errno = signed().flatMap(Int32.init(exactly:)),
                          errno != 0, errno != .min else { return nil }
                    event.error = -errno
                }
            case .congestionState:
                guard let state: CongestionState = Self.named(value), at(.previousCAState),
                      let previous: CongestionState = named(), readTiming(into: &event) else { return nil }
                event.kind = .congestionState
                event.congestionState = state
                event.previousCongestionState = previous
            case .kernelDrop:
                guard at(.reason), let reason = string(), at(.reasonCode),
                      let code = unsigned().flatMap(UInt32.init(exactly:)) else { return nil }
                event.kind = .drop
                event.dropReason = code
                reasonName = reason
            case .processExit:
                return nil
            }
            guard at(.socketCookie), let cookie = unsigned(), at(.socketCgroupID), let socketCgroupID = unsigned(),
                  at(.netns), let netns = unsigned().flatMap(UInt32.init(exactly:)) else { return nil }
            event.socketCookie = cookie
            event.socketCgroupID = socketCgroupID
            event.networkNamespace = netns
        }
        guard at(.ktimeNs), let time = unsigned(), index == count - 1, text[index] == UInt8(ascii: "}") else { return nil }
        event.monotonicNanoseconds = time
        return AgentLineScanner.Scanned(dropReasonName: reasonName)
    }

    // MARK: Values as EventLineDecoder reads them

    private mutating func readCommand(into event: inout ProbeEvent) -> Bool {
        // No NUL can be in a plain string; the decoder refuses longer comms.
        guard at(.comm), let comm = string(), comm.count <= 15 else { return false }
        event.owner.command = Command(bytes: comm)
        return true
    }

    private mutating func readTiming(into event: inout ProbeEvent) -> Bool {
        guard at(.backoff), let backoff = unsigned().flatMap(UInt8.init(exactly:)),
              at(.srttUs), let srtt = unsigned().flatMap(UInt32.init(exactly:)),
              at(.rtoUs), let rto = unsigned().flatMap(UInt32.init(exactly:)) else { return false }
        event.backoff = backoff
        event.smoothedRTTMicroseconds = srtt
        event.retransmitTimeoutMicroseconds = rto
        return true
    }

    private func lineType(_ name: UnsafeRawBufferPointer) -> EventLineDecoder.LineType? {
        EventLineDecoder.LineType.allCases.first { Self.equals(name, $0.name) }
    }

    private mutating func named<T: NamedValue>() -> T? {
        guard let name = string() else { return nil }
        return Self.named(name)
    }

    private static func named<T: NamedValue>(_ name: UnsafeRawBufferPointer) -> T? {
        for value in T.namedValues where equals(name, value.name) { return value }
        return nil
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        bytes.count == name.utf8CodeUnitCount && memcmp(bytes.baseAddress!, name.utf8Start, bytes.count) == 0
    }

    private mutating func address() -> IPAddress? {
        string().flatMap(IPAddress.init(utf8:))
    }

    // MARK: The plain layout

    /// Whether the next member's key is `key`: then the cursor moves to its value.
    @inline(__always)
    private mutating func at(_ key: EventKey) -> Bool {
        let length = tables.keyLengths[key.rawValue]
        // A value must follow.
        guard count - index > length else { return false }
        let first = ScanTables.wordsPerKey &* key.rawValue
        var difference: UInt64 = 0
        if count - index >= 8 * ScanTables.wordsPerKey {
            for word in 0..<ScanTables.wordsPerKey {
                let loaded = UnsafeRawPointer(text + index + 8 * word).loadUnaligned(as: UInt64.self)
                difference |= (loaded ^ tables.keyWords[first + word]) & tables.keyMasks[first + word]
            }
        } else {
            // Near the end of the line: byte by byte, never past it.
            for position in 0..<length {
                let byte = UInt8(truncatingIfNeeded: tables.keyWords[first + position / 8] >> (8 * (position % 8)))
                difference |= UInt64(text[index + position] ^ byte)
            }
        }
        guard difference == 0 else { return false }
        index &+= length
        return true
    }

    /// Whether the next member's key is `key`, without moving.
    private mutating func isAt(_ key: EventKey) -> Bool {
        let start = index
        defer { index = start }
        return at(key)
    }

    /// Digits without a sign or a leading zero, up to UInt64.max.
    @inline(__always)
    private mutating func unsigned() -> UInt64? {
        let start = index
        while index < count, isDecimalDigit(text[index]) { index &+= 1 }
        let digits = index - start
        guard digits > 0, digits == 1 || text[start] != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        if digits <= 19 {
            for position in start..<index { value = value &* 10 &+ UInt64(text[position] &- UInt8(ascii: "0")) }
            return value
        }
        for position in start..<index {
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(text[position] &- UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }

    /// An integer with an optional '-', within Int64.
    private mutating func signed() -> Int64? {
        guard index < count else { return nil }
        let negative = text[index] == UInt8(ascii: "-")
        if negative { index &+= 1 }
        guard let magnitude = unsigned() else { return nil }
        if !negative { return Int64(exactly: magnitude) }
        return magnitude == UInt64(Int64.max) + 1 ? .min : Int64(exactly: magnitude).map { -$0 }
    }

    /// A string's bytes between its quotes: ASCII without control bytes,
    /// quotes or backslashes. Eight bytes at a time while none is special.
    private mutating func string() -> UnsafeRawBufferPointer? {
        guard index < count, text[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var position = start
        while position &+ 8 <= count {
            guard !Self.hasSpecialByte(UnsafeRawPointer(text + position).loadUnaligned(as: UInt64.self)) else { break }
            position &+= 8
        }
        while position < count {
            let byte = text[position]
            if byte == UInt8(ascii: "\"") {
                index = position + 1
                return UnsafeRawBufferPointer(start: text + start, count: position - start)
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            position &+= 1
        }
        return nil
    }

    /// Whether any byte of `word` is a quote, a backslash, a control byte
    /// or not ASCII ("Bit Twiddling Hacks": a byte below n sets its high bit
    /// in (word - n per byte) & ~word).
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

    /// The identity fields the encoder puts after `cgroup_id` (keys the
    /// decoder does not read, each a plain string or integer): skipped, as
    /// long as no key repeats and none is one the decoder reads.
    private mutating func skipIdentityFields() -> Bool {
        var keys = 0
        while index < count, text[index] == UInt8(ascii: ","), !isAt(.attribution), !isAt(.exitCode) {
            index += 1
            guard let key = string(), index < count, text[index] == UInt8(ascii: ":"), keys < ScanTables.otherKeyLimit,
                  !EventKey.allCases.contains(where: { Self.equals(key, $0.name) }) else { return false }
            let start = key.baseAddress! - UnsafeRawPointer(text)
            for other in 0..<keys {
                let otherStart = tables.otherKeys[2 * other], otherEnd = tables.otherKeys[2 * other + 1]
                guard otherEnd - otherStart != key.count || memcmp(text + otherStart, key.baseAddress!, key.count) != 0 else {
                    return false
                }
            }
            tables.otherKeys[2 * keys] = start
            tables.otherKeys[2 * keys + 1] = start + key.count
            keys += 1
            index += 1
            guard string() != nil || signed() != nil else { return false }
        }
        return true
    }
}
