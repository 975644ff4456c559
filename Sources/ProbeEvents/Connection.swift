import CArkProbeRecords

/// A TCP connection seen from its local socket. IPv4 addresses are kept
/// IPv4-mapped (::ffff:a.b.c.d), as the kernel record carries them.
public struct Connection: Equatable, Hashable, Sendable {
    public var family: AddressFamily
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    public var state: TCPState

    public init(family: AddressFamily = .unspecified, localAddress: IPAddress = IPAddress(),
                localPort: UInt16 = 0, remoteAddress: IPAddress = IPAddress(), remotePort: UInt16 = 0,
                state: TCPState = .unknown) {
        self.family = family
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.state = state
    }

    init(_ raw: ark_flow) {
        self.init(
            family: AddressFamily(rawValue: raw.family) ?? .unspecified,
            localAddress: IPAddress(raw.saddr), localPort: raw.sport,
            remoteAddress: IPAddress(raw.daddr), remotePort: raw.dport,
            state: TCPState(rawValue: raw.tcp_state) ?? .unknown)
    }
}

public enum AddressFamily: UInt16, Sendable {
    case unspecified = 0
    case ipv4 = 2
    case ipv6 = 10

    public var name: StaticString {
        switch self {
        case .unspecified: "unspec"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        }
    }
}

/// TCP states as numbered in include/net/tcp_states.h.
public enum TCPState: UInt8, Sendable, CaseIterable {
    case unknown = 0
    case established = 1, synSent, synReceived, finWait1, finWait2, timeWait
    case close, closeWait, lastAck, listen, closing, newSynReceived

    public var name: StaticString {
        switch self {
        case .unknown: "UNKNOWN"
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synReceived: "SYN_RECV"
        case .finWait1: "FIN_WAIT1"
        case .finWait2: "FIN_WAIT2"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .closing: "CLOSING"
        case .newSynReceived: "NEW_SYN_RECV"
        }
    }
}

/// An IPv6 address, or an IPv4 one mapped into IPv6 (::ffff:0:0/96).
public struct IPAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes in network order, as two big-endian halves.
    public private(set) var high: UInt64 = 0
    public private(set) var low: UInt64 = 0

    public init() {}

    /// The address from its two big-endian halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPAddress holds 16 bytes")
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
    }

    /// An IPv4 address a.b.c.d, mapped.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        high = 0
        low = 0xffff_0000_0000 | UInt64(a) << 24 | UInt64(b) << 16 | UInt64(c) << 8 | UInt64(d)
    }

    init(_ raw: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        // Two word loads, no array: this runs for both addresses of every record.
        (high, low) = withUnsafeBytes(of: raw) {
            (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)),
             UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xffff }

    /// One word fed to the hasher, not two: peers are looked up per event.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(high &* 0x9E37_79B9_7F4A_7C15 ^ low)
    }

    /// What Dictionary and Set hash with: the same word, without a Hasher.
    public func _rawHashValue(seed: Int) -> Int {
        tableHash(high &* 0x9E37_79B9_7F4A_7C15 ^ low, seed: seed)
    }

    /// Dotted-quad for IPv4-mapped addresses, else RFC 5952 (lowercase,
    /// the longest run of two or more zero groups as "::").
    public var description: String {
        var text = JSONLineWriter(capacity: 48)
        text.appendAddress(self)
        return text.withBytes { String(decoding: $0, as: UTF8.self) }
    }
}

