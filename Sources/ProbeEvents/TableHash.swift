/// The hash of a key looked up per event, for its `_rawHashValue(seed:)`
/// (what Dictionary and Set hash with): the murmur3 finalizer of the key's
/// word mixed with the table's seed. A bijection, so distinct words never
/// collide; a dozen instructions, where a Hasher (SipHash) run costs about
/// 200.
@inlinable
public func tableHash(_ word: UInt64, seed: Int) -> Int {
    var word = word ^ UInt64(truncatingIfNeeded: seed)
    word = (word ^ word >> 33) &* 0xFF51_AFD7_ED55_8CCD
    word = (word ^ word >> 33) &* 0xC4CE_B9FE_1A85_EC53
    return Int(truncatingIfNeeded: word ^ word >> 33)
}

/// A pid as a table key: hashed with `tableHash`, where a UInt32 key runs
/// a Hasher (SipHash, about 80 instructions) per lookup.
public struct ProcessKey: Hashable, Comparable, Sendable {
    public let pid: UInt32

    @inlinable
    public init(pid: UInt32) { self.pid = pid }

    @inlinable
    public static func < (lhs: ProcessKey, rhs: ProcessKey) -> Bool { lhs.pid < rhs.pid }

    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        tableHash(UInt64(pid), seed: seed)
    }
}

/// A socket cookie (or its stand-in, `StateGraph.connectionKey`) as a
/// table key: hashed with `tableHash` rather than a Hasher.
public struct ConnectionKey: Hashable, Comparable, Sendable {
    public let cookie: UInt64

    @inlinable
    public init(cookie: UInt64) { self.cookie = cookie }

    @inlinable
    public static func < (lhs: ConnectionKey, rhs: ConnectionKey) -> Bool { lhs.cookie < rhs.cookie }

    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        tableHash(cookie, seed: seed)
    }
}

/// Tables keyed by pid read and written through the pid itself
/// (`processes[pid]`), as when they were keyed by UInt32.
extension Dictionary where Key == ProcessKey {
    @inlinable
    public subscript(_ pid: UInt32) -> Value? {
        get { self[ProcessKey(pid: pid)] }
        set { self[ProcessKey(pid: pid)] = newValue }
        // In place: with `set` alone, `processes[pid]!.field = x` copies the node.
        _modify { yield &self[ProcessKey(pid: pid)] }
    }

    @inlinable
    public func index(forKey pid: UInt32) -> Index? { index(forKey: ProcessKey(pid: pid)) }
}

/// Tables keyed by connection read and written by the cookie itself.
extension Dictionary where Key == ConnectionKey {
    @inlinable
    public subscript(_ cookie: UInt64) -> Value? {
        get { self[ConnectionKey(cookie: cookie)] }
        set { self[ConnectionKey(cookie: cookie)] = newValue }
        _modify { yield &self[ConnectionKey(cookie: cookie)] }
    }

    @inlinable
    public func index(forKey cookie: UInt64) -> Index? { index(forKey: ConnectionKey(cookie: cookie)) }
}
