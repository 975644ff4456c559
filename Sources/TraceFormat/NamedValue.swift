import ProbeEvents

/// The ProbeEvents enums the encoder writes by their `name`, so a trace
/// can be read back by looking the name up among all the values.
protocol NamedValue {
    var name: StaticString { get }
    /// Every value, in declaration order (for lookups and messages).
    static var namedValues: [Self] { get }
}

extension NamedValue {
    static func named(_ name: String) -> Self? {
        namedValues.first { $0.name.description == name }
    }

    static var allNames: String {
        namedValues.map(\.name.description).joined(separator: ", ")
    }
}

extension RetransmitCause: NamedValue {
    static let namedValues = allCases
}

extension CongestionState: NamedValue {
    static let namedValues = allCases
}

extension TCPState: NamedValue {
    static let namedValues = allCases
}

// Not CaseIterable in ProbeEvents: every raw value is tried once, so a case
// added there is known here too.
extension AddressFamily: NamedValue {
    static let namedValues = (0...UInt16.max).compactMap(AddressFamily.init(rawValue:))
}

extension SocketOwner.Source: NamedValue {
    static let namedValues = (0...UInt8.max).compactMap(SocketOwner.Source.init(rawValue:))
}
