#if canImport(Glibc)
import Glibc
#endif

/// What the loading process (`LoadingProcess`) hands the agent: the probe's
/// links and maps, as descriptors, with the attach report and the kernel's
/// drop-reason names; or the error that stopped the load, as the agent would
/// have thrown it. Both ends are the same binary, so the encoding is theirs
/// alone.
struct ProbeHandover: Equatable {
    struct Map: Equatable {
        var name: String
        var descriptor: Int32
    }

    var retransmitMode: AttachMode
    var features: [FeatureStatus]
    var dropReasonNames: [UInt32: String]
    /// Keep the programs attached while open.
    var links: [Int32]
    /// Every map of the probe: the agent reads some, and holding them all
    /// keeps them where tools look for a process's maps (its descriptors).
    var maps: [Map]

    static func encode(_ result: Result<ProbeHandover, ProbeError>) -> LoadingProcess.Answer {
        var writer = WireWriter()
        switch result {
        case .success(let handover):
            writer.integer(0)
            writer.string(handover.retransmitMode.rawValue)
            writer.integer(handover.features.count)
            for status in handover.features {
                writer.string(status.feature.rawValue)
                writer.string(status.state.rawValue)
                writer.optional(status.program)
                writer.optional(status.hook)
                writer.optional(status.reason)
            }
            writer.integer(handover.dropReasonNames.count)
            for (value, name) in handover.dropReasonNames.sorted(by: { $0.key < $1.key }) {
                writer.integer(Int(value))
                writer.string(name)
            }
            writer.integer(handover.maps.count)
            handover.maps.forEach { writer.string($0.name) }
            writer.integer(handover.links.count)
            return LoadingProcess.Answer(descriptors: handover.links + handover.maps.map(\.descriptor),
                                         bytes: writer.bytes)
        case .failure(let error):
            writer.integer(1)
            encode(error, into: &writer)
            return LoadingProcess.Answer(descriptors: [], bytes: writer.bytes)
        }
    }

    /// The handover, or the loading process's error thrown here. Closes
    /// every descriptor received when it throws.
    static func decode(_ answer: LoadingProcess.Answer) throws(ProbeError) -> ProbeHandover {
        var reader = WireReader(answer.bytes)
        let decoded: Result<ProbeHandover, ProbeError>?
        do throws(WireReader.Malformed) {
            decoded = try decode(&reader, descriptors: answer.descriptors)
        } catch {
            decoded = nil
        }
        switch decoded {
        case .success(let handover):
            return handover
        case .failure(let error):
            answer.descriptors.forEach { _ = close($0) }
            throw error
        case nil:
            answer.descriptors.forEach { _ = close($0) }
            throw .loadingProcessFailed("the process that loads the probe answered with malformed data")
        }
    }

    private static func decode(_ reader: inout WireReader, descriptors: [Int32])
        throws(WireReader.Malformed) -> Result<ProbeHandover, ProbeError> {
        guard try reader.integer() == 0 else { return .failure(try decodeError(&reader)) }
        guard let mode = AttachMode(rawValue: try reader.string()) else { throw WireReader.Malformed() }
        var features: [FeatureStatus] = []
        for _ in 0..<(try reader.count()) {
            guard let feature = ProbeFeature(rawValue: try reader.string()),
                  let state = FeatureStatus.State(rawValue: try reader.string()) else { throw WireReader.Malformed() }
            features.append(FeatureStatus(feature: feature, state: state, program: try reader.optional(),
                                          hook: try reader.optional(), reason: try reader.optional()))
        }
        var names: [UInt32: String] = [:]
        for _ in 0..<(try reader.count()) {
            names[UInt32(truncatingIfNeeded: try reader.integer())] = try reader.string()
        }
        var mapNames: [String] = []
        for _ in 0..<(try reader.count()) { mapNames.append(try reader.string()) }
        let linkCount = try reader.integer()
        guard reader.isAtEnd, linkCount >= 0, descriptors.count == linkCount + mapNames.count else {
            throw WireReader.Malformed()
        }
        return .success(ProbeHandover(
            retransmitMode: mode, features: features, dropReasonNames: names,
            links: Array(descriptors.prefix(linkCount)),
            maps: zip(mapNames, descriptors.suffix(mapNames.count)).map { Map(name: $0, descriptor: $1) }))
    }

    private static func encode(_ error: ProbeError, into writer: inout WireWriter) {
        switch error {
        case .permissionDenied(let operation):
            writer.integer(0)
            writer.string(operation)
        case .missingCapabilities(let names):
            writer.integer(1)
            writer.integer(names.count)
            names.forEach { writer.string($0) }
        case .hookUnavailable(let hook, let reason):
            writer.integer(2)
            writer.string(hook)
            writer.string(reason)
        case .btfUnavailable(let path):
            writer.integer(3)
            writer.string(path)
        case .attachFailed(let hook, let attempts):
            writer.integer(4)
            writer.string(hook)
            writer.integer(attempts.count)
            for attempt in attempts {
                writer.string(attempt.mode.rawValue)
                writer.string(attempt.reason)
            }
        case .loadFailed(let detail, let errno, let log):
            writer.integer(5)
            writer.string(detail)
            writer.integer(Int(errno))
            writer.string(log)
        case .system(let call, let errno):
            writer.integer(6)
            writer.string(call)
            writer.integer(Int(errno))
        case .invalidConfiguration(let message):
            writer.integer(7)
            writer.string(message)
        case .loadingProcessFailed(let detail):
            writer.integer(8)
            writer.string(detail)
        }
        writer.integer(0)  // the end: decoding checks it was reached exactly
    }

    private static func decodeError(_ reader: inout WireReader) throws(WireReader.Malformed) -> ProbeError {
        let error: ProbeError
        switch try reader.integer() {
        case 0: error = .permissionDenied(operation: try reader.string())
        case 1:
            var names: [String] = []
            for _ in 0..<(try reader.count()) { names.append(try reader.string()) }
            error = .missingCapabilities(names)
        case 2: error = .hookUnavailable(hook: try reader.string(), reason: try reader.string())
        case 3: error = .btfUnavailable(path: try reader.string())
        case 4:
            let hook = try reader.string()
            var attempts: [AttachAttempt] = []
            for _ in 0..<(try reader.count()) {
                guard let mode = AttachMode(rawValue: try reader.string()) else { throw WireReader.Malformed() }
                attempts.append(AttachAttempt(mode: mode, reason: try reader.string()))
            }
            error = .attachFailed(hook: hook, attempts: attempts)
        case 5: error = .loadFailed(detail: try reader.string(), errno: Int32(try reader.integer()), log: try reader.string())
        case 6: error = .system(call: try reader.string(), errno: Int32(try reader.integer()))
        case 7: error = .invalidConfiguration(try reader.string())
        case 8: error = .loadingProcessFailed(try reader.string())
        default: throw WireReader.Malformed()
        }
        guard try reader.integer() == 0, reader.isAtEnd else { throw WireReader.Malformed() }
        return error
    }
}

/// Integers (32 bits, little-endian; errno values as their bit pattern)
/// and strings (a length, then UTF-8).
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func integer(_ value: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        integer(text.utf8.count)
        bytes.append(contentsOf: text.utf8)
    }

    mutating func optional(_ text: String?) {
        integer(text == nil ? 0 : 1)
        if let text { string(text) }
    }
}

struct WireReader {
    struct Malformed: Error {}

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func integer() throws(Malformed) -> Int {
        guard bytes.count - offset >= 4 else { throw Malformed() }
        var value: UInt32 = 0
        for index in (0..<4).reversed() { value = value << 8 | UInt32(bytes[offset + index]) }
        offset += 4
        return Int(Int32(bitPattern: value))
    }

    /// A number of things that follow, each at least a byte.
    mutating func count() throws(Malformed) -> Int {
        let count = try integer()
        guard count >= 0, count <= bytes.count - offset else { throw Malformed() }
        return count
    }

    mutating func string() throws(Malformed) -> String {
        let count = try count()
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }

    mutating func optional() throws(Malformed) -> String? {
        switch try integer() {
        case 0: return nil
        case 1: return try string()
        default: throw Malformed()
        }
    }
}
