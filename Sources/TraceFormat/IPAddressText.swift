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
        if let quad = parseIPv4(text.utf8) {
            self.init(ipv4: UInt8(quad >> 24), UInt8(quad >> 16 & 0xFF), UInt8(quad >> 8 & 0xFF), UInt8(quad & 0xFF))
            return
        }
        let utf8 = Array(text.utf8)
        guard utf8.contains(UInt8(ascii: ":")), let bytes = parseIPv6(utf8[...]) else { return nil }
        self.init(bytes: bytes)
    }
}

/// Four decimal parts 0-255, no leading zeros, as one big-endian number.
/// Read byte by byte without allocating: every line of a trace has two.
private func parseIPv4(_ text: some Sequence<UInt8>) -> UInt32? {
    var address: UInt32 = 0
    var part = 0
    var digits = 0
    var dots = 0
    for byte in text {
        if byte == UInt8(ascii: ".") {
            guard digits > 0, dots < 3 else { return nil }
            address = address << 8 | UInt32(part)
            dots += 1
            part = 0
            digits = 0
            continue
        }
        // A second digit after a leading zero is an ambiguous (octal) spelling.
        guard isDecimalDigit(byte), digits < 3, digits == 0 || part != 0 else { return nil }
        part = part * 10 + Int(byte - UInt8(ascii: "0"))
        digits += 1
        guard part <= 255 else { return nil }
    }
    guard digits > 0, dots == 3 else { return nil }
    return address << 8 | UInt32(part)
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
            groups.append(UInt16(quad >> 16))
            groups.append(UInt16(quad & 0xFFFF))
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
