/// A set of UInt64 keys (connection cookies) in one open-addressing table:
/// linear probing from a multiplicative (Fibonacci) hash. The graph
/// inserts and removes cookies on every retransmission, and Swift's `Set`
/// runs SipHash for each; this costs a multiply. Unordered, like `Set`.
/// The first two keys stay inline: most edges and connections hold one or
/// two, and a new one then allocates no table.
public struct UInt64Set: Sendable {
    /// Until the table exists (0: free). Empty once the keys spill into it.
    private var inline: (UInt64, UInt64) = (0, 0)
    /// Power-of-two sized; 0 marks a free slot (a 0 key is kept aside).
    private var slots: [UInt64] = []
    private var containsZero = false
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public func contains(_ key: UInt64) -> Bool {
        if key == 0 { return containsZero }
        guard !slots.isEmpty else { return inline.0 == key || inline.1 == key }
        return slots[slotIndex(of: key)] == key
    }

    /// True when the key was not there yet.
    @discardableResult
    public mutating func insert(_ key: UInt64) -> Bool {
        if key == 0 {
            guard !containsZero else { return false }
            containsZero = true
            count += 1
            return true
        }
        if slots.isEmpty {
            if inline.0 == key || inline.1 == key { return false }
            if inline.0 == 0 || inline.1 == 0 {
                if inline.0 == 0 { inline.0 = key } else { inline.1 = key }
                count += 1
                return true
            }
        }
        // At most three quarters full, so that probes stay short.
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let index = slotIndex(of: key)
        guard slots[index] != key else { return false }
        slots[index] = key
        count += 1
        return true
    }

    /// True when the key was there.
    @discardableResult
    public mutating func remove(_ key: UInt64) -> Bool {
        if key == 0 {
            guard containsZero else { return false }
            containsZero = false
            count -= 1
            return true
        }
        if slots.isEmpty {
            if inline.0 == key { inline.0 = 0 } else if inline.1 == key { inline.1 = 0 } else { return false }
            count -= 1
            return true
        }
        var hole = slotIndex(of: key)
        guard slots[hole] == key else { return false }
        // Backward-shift deletion: move later keys of the probe run into the
        // hole when their home slot allows, so no tombstones are needed.
        let mask = slots.count - 1
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = homeIndex(of: slots[next])
            // The key may move back when its home is not cyclically in (hole, next].
            if (next - home) & mask >= (next - hole) & mask {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        count -= 1
        return true
    }

    /// The key's slot, or the free slot where it would go.
    private func slotIndex(of key: UInt64) -> Int {
        let mask = slots.count - 1
        var index = homeIndex(of: key)
        while slots[index] != key && slots[index] != 0 { index = (index + 1) & mask }
        return index
    }

    private func homeIndex(of key: UInt64) -> Int {
        // The top bits of the product are the well-mixed ones.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slots.count.trailingZeroBitCount))
    }

    /// The first growth takes in the inline keys.
    private mutating func grow() {
        let old = slots.isEmpty ? [inline.0, inline.1] : slots
        inline = (0, 0)
        slots = Array(repeating: 0, count: Swift.max(8, old.count * 2))
        for key in old where key != 0 { slots[slotIndex(of: key)] = key }
    }
}

extension UInt64Set: Sequence {
    public struct Iterator: IteratorProtocol {
        private var inline: (UInt64, UInt64)
        private var slots: IndexingIterator<[UInt64]>
        private var zeroPending: Bool

        fileprivate init(_ set: UInt64Set) {
            inline = set.inline
            slots = set.slots.makeIterator()
            zeroPending = set.containsZero
        }

        public mutating func next() -> UInt64? {
            if inline.0 != 0 {
                defer { inline.0 = 0 }
                return inline.0
            }
            if inline.1 != 0 {
                defer { inline.1 = 0 }
                return inline.1
            }
            while let key = slots.next() {
                if key != 0 { return key }
            }
            guard zeroPending else { return nil }
            zeroPending = false
            return 0
        }
    }

    public func makeIterator() -> Iterator { Iterator(self) }
    public var underestimatedCount: Int { count }
}
