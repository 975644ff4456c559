import ProbeEvents

extension IPAddress {
    /// Parses the text the event encoder writes, and the other standard
    /// spellings of the same addresses: dotted-quad IPv4 (kept IPv4-mapped,
    /// as ProbeEvents does), IPv6 per RFC 4291 section 2.2 with "::" and
    /// upper- or lowercase hex, and a dotted quad in the last 32 bits
    /// ("::ffff:10.0.0.1" is the same address as "10.0.0.1"). Nil for
    /// anything else: zone ids, prefixes, IPv4 parts with leading zeros
    /// (ambiguous: octal to some parsers), spaces.
    public init?(text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let bytes = parseIPv6(utf8[...]) else { return nil }
            self.init(bytes: bytes)
        } else {
            guard let quad = parseIPv4(utf8[...]) else { return nil }
            self.init(ipv4: quad[0], quad[1], quad[2], quad[3])
        }
    }
}

/// Four decimal parts 0-255, no leading zeros.
private func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var quad: [UInt8] = []
    for part in parts {
        guard (1...3).contains(part.count), part.allSatisfy(isDecimalDigit),
              part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
        let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard value <= 255 else { return nil }
        quad.append(UInt8(value))
    }
    return quad
}

/// Eight 16-bit groups, at most one "::" standing for one or more zero
/// groups, and optionally a dotted quad as the last two.
private func parseIPv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    var head = text
    var tail: ArraySlice<UInt8>?
    if let gap = doubleColon(in: text) {
        head = text[text.startIndex..<gap]
        tail = text[(gap + 2)...]
    }
    guard let headGroups = parseGroups(head, endsAddress: tail == nil) else { return nil }
    var groups = headGroups
    if let tail {
        guard doubleColon(in: tail) == nil, let tailGroups = parseGroups(tail, endsAddress: true),
              headGroups.count + tailGroups.count <= 7 else { return nil }
        groups += repeatElement(0, count: 8 - headGroups.count - tailGroups.count)
        groups += tailGroups
    }
    guard groups.count == 8 else { return nil }
    return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
}

private func doubleColon(in text: ArraySlice<UInt8>) -> Int? {
    text.indices.first { $0 + 1 < text.endIndex && text[$0] == UInt8(ascii: ":") && text[$0 + 1] == UInt8(ascii: ":") }
}

/// Colon-separated groups of 1-4 hex digits; the last one of the address
/// may be a dotted quad (two groups). Empty text is no groups.
private func parseGroups(_ text: ArraySlice<UInt8>, endsAddress: Bool) -> [UInt16]? {
    guard !text.isEmpty else { return [] }
    let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    var groups: [UInt16] = []
    for (position, part) in parts.enumerated() {
        if endsAddress && position == parts.count - 1 && part.contains(UInt8(ascii: ".")) {
            guard let quad = parseIPv4(part) else { return nil }
            groups.append(UInt16(quad[0]) << 8 | UInt16(quad[1]))
            groups.append(UInt16(quad[2]) << 8 | UInt16(quad[3]))
            continue
        }
        guard (1...4).contains(part.count) else { return nil }
        var group: UInt16 = 0
        for byte in part {
            guard let digit = hexDigitValue(byte) else { return nil }
            group = group << 4 | UInt16(digit)
        }
        groups.append(group)
    }
    return groups
}
