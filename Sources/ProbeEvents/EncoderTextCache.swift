/// Text an event encoder wrote recently and is likely to write again:
/// addresses (a node talks to few peers compared with how many events it
/// writes about them), and the millisecond and namespace numbers, which
/// change far less often than events come. Formatting these is a good
/// part of a line's cost. Every entry is checked against the value it
/// stands for, so a stale or colliding one is simply written again. Fixed
/// size (256 address slots of 64 bytes), allocated once; the storage is
/// raw memory, so using it costs no exclusivity checks. Not for concurrent
/// use: one per encoder, encoders on one thread.
final class EncoderTextCache {
    struct Number {
        var value = UInt64.max
        var length = 0
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
    }

    struct Slot {
        var address = IPAddress()
        var length = 0
        /// The text (at most 39 bytes), stored and copied as whole words.
        var text: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    }

    /// A command known to need no escaping, and its length.
    struct PlainCommand {
        var command = Command()
        var length = -1
    }

    static let slotCount = 256
    static let commandSlotCount = 64
    private let slots: UnsafeMutablePointer<Slot>
    private let commands: UnsafeMutablePointer<PlainCommand>
    /// The last `ts` and `netns` values written.
    let milliseconds: UnsafeMutablePointer<Number>
    let namespace: UnsafeMutablePointer<Number>

    init() {
        slots = .allocate(capacity: Self.slotCount)
        // Length 0 marks an empty slot: no address has empty text.
        slots.initialize(repeating: Slot(), count: Self.slotCount)
        commands = .allocate(capacity: Self.commandSlotCount)
        commands.initialize(repeating: PlainCommand(), count: Self.commandSlotCount)
        milliseconds = .allocate(capacity: 2)
        milliseconds.initialize(repeating: Number(), count: 2)
        namespace = milliseconds + 1
    }

    deinit {
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
        commands.deinitialize(count: Self.commandSlotCount)
        commands.deallocate()
        milliseconds.deinitialize(count: 2)
        milliseconds.deallocate()
    }

    /// Puts `command` as a JSON string into `line` (room reserved): a
    /// command seen before to need no escaping is copied without a check.
    @inline(__always)
    func put(_ command: Command, into line: inout JSONLineWriter) {
        let words = command.bytes
        let index = Int(truncatingIfNeeded: ((words.0 ^ words.1 &* 31) &* 0x9E37_79B9_7F4A_7C15) >> 58)
        let slot = commands + index
        if slot.pointee.length >= 0 && slot.pointee.command == command {
            line.put(UInt8(ascii: "\""))
            line.put(words, length: slot.pointee.length)
            line.put(UInt8(ascii: "\""))
            return
        }
        let start = line.count
        line.putString(command)
        let length = line.count - start - 2
        // Kept only when written as is: quotes and the bytes before the NUL.
        if length == command.length {
            slot.pointee = PlainCommand(command: command, length: length)
        }
    }

    /// Puts `value` in decimal into `line` (room reserved), from `entry`
    /// when it holds that value.
    @inline(__always)
    func put(_ value: UInt64, as entry: UnsafeMutablePointer<Number>, into line: inout JSONLineWriter) {
        if entry.pointee.value == value {
            let text = entry.pointee.text
            line.put((text.0, text.1, text.2, 0, 0), length: entry.pointee.length)
            return
        }
        let start = line.count
        line.putDecimal(value)
        entry.pointee.value = value
        entry.pointee.length = line.count - start
        withUnsafeMutableBytes(of: &entry.pointee.text) { text in
            line.copyBytes(from: start, count: entry.pointee.length, to: text.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Puts the text of `address` into `line` (room reserved): from the
    /// cache when it holds it, else formatted and kept.
    @inline(__always)
    func put(_ address: IPAddress, into line: inout JSONLineWriter) {
        let index = Int(truncatingIfNeeded: ((address.high ^ address.low) &* 0x9E37_79B9_7F4A_7C15) >> 56)
        let slot = slots + index
        if slot.pointee.length != 0 && slot.pointee.address == address {
            line.put(slot.pointee.text, length: slot.pointee.length)
            return
        }
        let start = line.count
        line.putText(address)
        slot.pointee.address = address
        slot.pointee.length = line.count - start
        withUnsafeMutableBytes(of: &slot.pointee.text) { text in
            line.copyBytes(from: start, count: slot.pointee.length, to: text.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}
