import ProbeEvents
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// Who an alert is about; its text is the line's `entity_id`.
public enum AlertEntity: Hashable, Sendable, CustomStringConvertible {
    case network(pid: UInt32)
    case networkNamespace(UInt32)
    case process(UInt32)
    case peer(IPAddress)
    case connection(UInt64)
    case kernelDrops(netns: UInt32, reason: String)
    /// A job by its key (`run:<id>`, `slurm:<id>`, `pod:<uid>`, `rdzv:<addr>:<port>`).
    case job(String)

    public var description: String {
        switch self {
        case .network(let pid): "network-pid-\(pid)"
        case .networkNamespace(let inode): "network-netns-\(inode)"
        case .process(let pid): "process-pid-\(pid)"
        case .peer(let address): "peer-\(address)"
        case .connection(let cookie): "connection-\(cookie)"
        case .kernelDrops(let netns, let reason): "kernel-drops-\(netns)-\(reason)"
        case .job(let key): "job-\(key)"
        }
    }

    /// What Dictionary and Set hash with: entities are looked up per event
    /// and per tick, and a Hasher (SipHash) run costs about 200
    /// instructions. The named ones are rare and keep the Hasher.
    public func _rawHashValue(seed: Int) -> Int {
        switch self {
        case .network(let pid): tableHash(1 << 32 | UInt64(pid), seed: seed)
        case .networkNamespace(let inode): tableHash(2 << 32 | UInt64(inode), seed: seed)
        case .process(let pid): tableHash(3 << 32 | UInt64(pid), seed: seed)
        case .peer(let address): address._rawHashValue(seed: seed)
        case .connection(let cookie): tableHash(cookie, seed: seed)
        case .kernelDrops, .job:
            // Not `hashValue`: that calls this.
            tableHash(UInt64(truncatingIfNeeded: hashedByHasher), seed: seed)
        }
    }

    private var hashedByHasher: Int {
        var hasher = Hasher()
        hash(into: &hasher)
        return hasher.finalize()
    }

    /// The entity of `event` as seen by rules on `subject`; nil when the
    /// event says nothing about such an entity.
    static func of(_ event: ProbeEvent, for subject: Subject, reasons: [UInt32: String]) -> AlertEntity? {
        switch subject {
        case .waitsOnNetwork:
            return event.owner.pid == 0 ? nil : .network(pid: event.owner.pid)
        case .peer:
            return event.connection.family == .unspecified ? nil : .peer(event.connection.remoteAddress)
        case .connection:
            guard event.connection.family != .unspecified else { return nil }
            return .connection(StateGraph.connectionKey(event))
        case .kernelDrops:
            guard event.kind == .drop else { return nil }
            return .kernelDrops(netns: event.networkNamespace, reason: reasons[event.dropReason] ?? "UNKNOWN_\(event.dropReason)")
        case .job:
            return nil
        case .event:
            if event.kind == .processExit { return .process(event.owner.pid) }
            return event.owner.pid != 0 ? .network(pid: event.owner.pid) : .networkNamespace(event.networkNamespace)
        }
    }
}

/// One thing a rule is evaluated for: a field lookup by name.
protocol SubjectInstance {
    var entity: AlertEntity { get }
    var pid: UInt32 { get }
    func value(_ field: String) -> Value
    /// The fields read by code, in code order: a rule's names are turned
    /// into codes once, since a switch over names compares strings one by
    /// one at every read. Empty: every field is read by name.
    static var fieldsByCode: [String] { get }
    /// Field `code` (an index into `fieldsByCode`), or by `name` when the
    /// code is -1.
    func value(code: Int, name: String) -> Value
    /// Who the subject's process is, for subjects whose identity fields are
    /// that process's (nil: unknown, or a subject without a process).
    var identity: IdentityCache.Entry? { get }
}

extension SubjectInstance {
    static var fieldsByCode: [String] { [] }
    var identity: IdentityCache.Entry? { nil }
    func value(code: Int, name: String) -> Value { value(name) }

    /// The codes of `names` for this kind of instance (-1: by name).
    static func codes(of names: [String]) -> [Int] {
        names.map { fieldsByCode.firstIndex(of: $0) ?? -1 }
    }
}

/// A process's WaitsOn edge to the network.
struct NetworkEdgeInstance: SubjectInstance {
    let process: ProcessNode
    let figures: EdgeFigures
    let peer: IPAddress
    let peerWaiters: Int
    let identity: IdentityCache.Entry?

    var entity: AlertEntity { .network(pid: process.pid) }
    var pid: UInt32 { process.pid }

    func value(_ field: String) -> Value {
        switch field {
        case "pid": .number(Double(process.pid))
        case "comm": .string(process.command.description)
        case "cgroup_id": .number(Double(process.cgroupID))
        case "peer": .string(peer.description)
        case "peer_waiters": .number(Double(peerWaiters))
        default: Subject.identityFields[field] != nil ? identity.value(field) : figures.value(field)
        }
    }
}

/// A peer and the processes waiting on it.
struct PeerInstance: SubjectInstance {
    let address: IPAddress
    var waiters = 0
    /// Waiters whose connections to this peer were blocked for 600 ms or
    /// more of the last second (the shipped workload-stalled threshold).
    var stalledWaiters = 0
    /// Waiters blocked on this peer now, and the longest such spell.
    var blockedWaiters = 0
    var blockedForSeconds = 0.0
    var retransmits: UInt64 = 0
    var timeouts: UInt64 = 0
    var retransmitRate = 0.0
    var windowSeconds = 0.0

    var entity: AlertEntity { .peer(address) }
    var pid: UInt32 { 0 }

    func value(_ field: String) -> Value {
        switch field {
        case "peer": .string(address.description)
        case "waiters": .number(Double(waiters))
        case "stalled_waiters": .number(Double(stalledWaiters))
        case "blocked_waiters": .number(Double(blockedWaiters))
        case "blocked_for": .number(blockedForSeconds)
        case "retransmits": .number(Double(retransmits))
        case "rtos": .number(Double(timeouts))
        case "retransmit_rate": .number(retransmitRate)
        case "window": .number(windowSeconds)
        default: .missing
        }
    }
}

/// What rules read of a connection at one tick.
struct ConnectionFigures {
    let cookie: UInt64
    let pid: UInt32
    let connection: Connection
    let congestionState: CongestionState
    let backoff: UInt8
    let command: Command
    let retransmits: UInt64
    let timeouts: UInt64
    let rate: Double
    let quietSeconds: Double
    let windowSeconds: Double
    let blockedForSeconds: Double
    let blockedLastSecond: Double
    let identity: IdentityCache.Entry?

    init(node: ConnectionNode, command: Command, retransmits: UInt64, timeouts: UInt64, rate: Double,
         quietSeconds: Double, windowSeconds: Double, blockedForSeconds: Double, blockedLastSecond: Double,
         identity: IdentityCache.Entry?) {
        cookie = node.cookie
        pid = node.pid
        connection = node.connection
        congestionState = node.congestionState
        backoff = node.backoff
        self.command = command
        self.retransmits = retransmits
        self.timeouts = timeouts
        self.rate = rate
        self.quietSeconds = quietSeconds
        self.windowSeconds = windowSeconds
        self.blockedForSeconds = blockedForSeconds
        self.blockedLastSecond = blockedLastSecond
        self.identity = identity
    }
}

/// A connection with recent evidence. A class: the engine hands it to the
/// rule context and keeps it as an alert's held subject, and a struct this
/// size was copied into a new box each time.
final class ConnectionInstance: SubjectInstance {
    /// Replaced only while nothing else holds the instance: the next tick
    /// reuses instances no alert kept (`Instances`), not to allocate and
    /// free one per connection per tick.
    @exclusivity(unchecked) var figures: ConnectionFigures

    init(_ figures: ConnectionFigures) {
        self.figures = figures
    }

    var entity: AlertEntity { .connection(figures.cookie) }
    var pid: UInt32 { figures.pid }
    var identity: IdentityCache.Entry? { figures.identity }

    static let fieldsByCode = [
        "pid", "comm", "saddr", "sport", "daddr", "dport", "retransmits", "rtos", "retransmit_rate", "backoff",
        "ca_state", "quiet", "window", "blocked_for", "blocked_1s",
    ]

    func value(_ field: String) -> Value {
        value(code: Self.fieldsByCode.firstIndex(of: field) ?? -1, name: field)
    }

    func value(code: Int, name: String) -> Value {
        switch code {
        case 0: .number(Double(figures.pid))
        case 1: .string(figures.command.description)
        case 2: .string(figures.connection.localAddress.description)
        case 3: .number(Double(figures.connection.localPort))
        case 4: .string(figures.connection.remoteAddress.description)
        case 5: .number(Double(figures.connection.remotePort))
        case 6: .number(Double(figures.retransmits))
        case 7: .number(Double(figures.timeouts))
        case 8: .number(figures.rate)
        case 9: .number(Double(figures.backoff))
        case 10: .string(figures.congestionState.name.description)
        case 11: .number(figures.quietSeconds)
        case 12: .number(figures.windowSeconds)
        case 13: .number(figures.blockedForSeconds)
        case 14: .number(figures.blockedLastSecond)
        default: figures.identity.value(name)
        }
    }
}

extension Optional where Wrapped == IdentityCache.Entry {
    /// An identity field as a rule reads it; missing when not known.
    func value(_ field: String) -> Value {
        switch self?.identity.field(field) {
        case .number(let number)?: .number(Double(number))
        case .string(let text)?: .string(text)
        case nil: .missing
        }
    }
}

/// Kernel drops of one reason in one namespace.
struct KernelDropsInstance: SubjectInstance {
    let netns: UInt32
    let reason: String
    var drops: UInt64
    let windowSeconds: Double

    var entity: AlertEntity { .kernelDrops(netns: netns, reason: reason) }
    var pid: UInt32 { 0 }

    func value(_ field: String) -> Value {
        switch field {
        case "netns": .number(Double(netns))
        case "reason": .string(reason)
        case "drops": .number(Double(drops))
        case "rate": .number(Double(drops) / windowSeconds)
        case "window": .number(windowSeconds)
        default: .missing
        }
    }
}

/// The last event of an entity, for event-subject rules.
struct EventInstance: SubjectInstance {
    let event: ProbeEvent
    let entity: AlertEntity
    let reasons: [UInt32: String]
    let identity: IdentityCache.Entry?

    var pid: UInt32 { event.owner.pid }

    func value(_ field: String) -> Value {
        EventFields.value(field, of: event, reasons: reasons, identity: identity)
    }
}

extension EdgeFigures {
    func value(_ field: String) -> Value {
        switch field {
        case "retransmit_rate": .number(retransmitRate)
        case "retransmits": .number(Double(retransmits))
        case "rtos": .number(Double(timeouts))
        case "failed": .number(Double(failures))
        case "backoff": .number(Double(backoff))
        case "connections": .number(Double(connections))
        case "held": .number(heldSeconds)
        case "quiet": .number(quietSeconds)
        case "window": .number(windowSeconds)
        case "blocked": .number(blockedSeconds)
        case "blocked_fraction": .number(blockedFraction)
        case "blocked_for": .number(blockedForSeconds)
        case "blocked_1s": .number(blockedLastSecond)
        default: .missing
        }
    }
}
