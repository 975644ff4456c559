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
