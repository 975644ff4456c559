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
        var text = String(text)
        guard let address = text.withUTF8({ IPAddress(utf8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = address
    }

    /// The same reading from bytes, without allocating: every line of a
    /// trace has two addresses.
    init?(utf8 text: UnsafeRawBufferPointer) {
        if let quad = parseIPv4(text) {
            self.init(ipv4: UInt8(quad >> 24), UInt8(quad >> 16 & 0xFF), UInt8(quad >> 8 & 0xFF), UInt8(quad & 0xFF))
            return
        }
        guard text.contains(UInt8(ascii: ":")), let groups = parseIPv6(text) else { return nil }
        self.init(high: groups.high, low: groups.low)
    }
}

/// Four decimal parts 0-255, no leading zeros, as one big-endian number.
/// Read byte by byte without allocating: every line of a trace has two.
private func parseIPv4(_ text: UnsafeRawBufferPointer) -> UInt32? {
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
private func parseIPv6(_ text: UnsafeRawBufferPointer) -> IPv6Groups? {
    var head = 0..<text.count
    var tail: Range<Int>?
    if let gap = doubleColon(in: text, head) {
        head = 0..<gap
        tail = gap + 2..<text.count
    }
    var groups = IPv6Groups()
    guard parseGroups(text, head, endsAddress: tail == nil, into: &groups) else { return nil }
    if let tail {
        var tailGroups = IPv6Groups()
        guard doubleColon(in: text, tail) == nil, parseGroups(text, tail, endsAddress: true, into: &tailGroups),
              groups.count + tailGroups.count <= 7 else { return nil }
        // The gap's zero groups, then the tail's.
        groups.count = 8 - tailGroups.count
        for index in 0..<tailGroups.count {
            guard groups.append(tailGroups.group(at: index)) else { return nil }
        }
    }
    guard groups.count == 8 else { return nil }
    return groups
}

/// Up to eight groups, in order, as the address's two big-endian halves.
private struct IPv6Groups {
    var high: UInt64 = 0
    var low: UInt64 = 0
    var count = 0

    /// False when all eight are taken.
    mutating func append(_ group: UInt16) -> Bool {
        guard count < 8 else { return false }
        if count < 4 {
            high |= UInt64(group) << (16 * (3 - count))
        } else {
            low |= UInt64(group) << (16 * (7 - count))
        }
        count += 1
        return true
    }

    func group(at index: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: index < 4 ? high >> (16 * (3 - index)) : low >> (16 * (7 - index)))
    }
}

private func doubleColon(in text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
    range.first { $0 + 1 < range.upperBound && text[$0] == UInt8(ascii: ":") && text[$0 + 1] == UInt8(ascii: ":") }
}

/// Colon-separated groups of 1-4 hex digits; the last one of the address
/// may be a dotted quad (two groups). Empty text is no groups.
private func parseGroups(_ text: UnsafeRawBufferPointer, _ range: Range<Int>, endsAddress: Bool,
                         into groups: inout IPv6Groups) -> Bool {
    guard !range.isEmpty else { return true }
    var partStart = range.lowerBound
    while true {
        let partEnd = (partStart..<range.upperBound).first { text[$0] == UInt8(ascii: ":") } ?? range.upperBound
        let isLast = partEnd == range.upperBound
        let part = UnsafeRawBufferPointer(rebasing: text[partStart..<partEnd])
        if endsAddress && isLast && part.contains(UInt8(ascii: ".")) {
            guard let quad = parseIPv4(part), groups.append(UInt16(quad >> 16)),
                  groups.append(UInt16(quad & 0xFFFF)) else { return false }
        } else {
            guard (1...4).contains(part.count) else { return false }
            var group: UInt16 = 0
            for byte in part {
                guard let digit = hexDigitValue(byte) else { return false }
                group = group << 4 | UInt16(digit)
            }
            guard groups.append(group) else { return false }
        }
        if isLast { return true }
        partStart = partEnd + 1
    }
}
