import ProbeEvents
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// What a rule can be about (its `on:`), with the fields each offers.
/// Graph subjects are evaluated on every tick for each instance the graph
/// holds; event subjects on every event of that type.
public enum Subject: Hashable, Sendable {
    /// A process's WaitsOn edge to the network (entity `network-pid-<pid>`).
    case waitsOnNetwork
    /// A remote peer that processes wait on (entity `peer-<address>`).
    case peer
    /// A connection with recent retransmissions (entity `connection-<cookie>`).
    case connection
    /// Kernel drops of one reason in one network namespace
    /// (entity `kernel-drops-<netns>-<reason>`).
    case kernelDrops
    /// A job's processes on this node (entity `job-<job key>`): its ranks,
    /// which are blocked, and the worst one's connection and peer.
    case job
    /// Every event of one type (entity: the event's own).
    case event(ProbeEvent.Kind, sent: Bool)

    public static let byName: [String: Subject] = [
        "waits_on_network": .waitsOnNetwork,
        "peer": .peer,
        "connection": .connection,
        "kernel_drops": .kernelDrops,
        "job": .job,
        "transport.drop": .event(.retransmit, sent: true),
        "transport.retransmit_failed": .event(.retransmit, sent: false),
        "transport.congestion": .event(.congestionState, sent: true),
        "transport.kernel_drop": .event(.drop, sent: true),
        "process.exit": .event(.processExit, sent: true),
    ]

    /// The fields of each subject, for the rule checker.
    public static var schemas: [String: FieldSchema] {
        byName.mapValues { FieldSchema(fields: $0.fields) }
    }

    public var fields: [String: FieldType] {
        switch self {
        case .waitsOnNetwork: Self.edgeFields
        case .peer: Self.peerFields
        case .connection: Self.connectionFields
        case .kernelDrops: Self.dropFields
        case .job: Self.jobFields
        case .event: EventFields.schema.fields
        }
    }

    /// The codes by which the subject's instances read `names` (-1: by name).
    func fieldCodes(of names: [String]) -> [Int] {
        switch self {
        case .connection: ConnectionInstance.codes(of: names)
        default: names.map { _ in -1 }
        }
    }

    /// Whether the subject's identity fields are those of its process's
    /// identity (a job's `job` is its own key).
    var readsProcessIdentity: Bool {
        switch self {
        case .waitsOnNetwork, .connection, .event: true
        case .peer, .kernelDrops, .job: false
        }
    }

    /// What a process's identity offers rules (missing when unknown).
    static let identityFields: [String: FieldType] = [
        "job": .string, "rank": .number, "local_rank": .number, "world_size": .number, "group_rank": .number,
        "slurm_job": .number, "slurm_step": .string, "container_id": .string, "pod_uid": .string,
        "qos_class": .string, "systemd_unit": .string, "cgroup_path": .string,
    ]
    static let jobFields: [String: FieldType] = [
        "job": .string, "ranks": .number, "world_size": .number, "rank_list": .string,
        "stalled_ranks": .number, "blocked_ranks": .number, "stalled_rank_list": .string, "waiting_ranks": .string,
        "culprit": .string, "culprit_rank": .number, "culprit_pid": .number, "culprit_comm": .string,
        "peer": .string, "connection": .string, "rtos": .number, "retransmits": .number,
        "blocked": .duration, "blocked_for": .duration, "blocked_1s": .duration, "window": .duration,
    ]
    static let edgeFields: [String: FieldType] = identityFields.merging([
        "pid": .number, "comm": .string, "cgroup_id": .number,
        "retransmit_rate": .number, "retransmits": .number, "rtos": .number, "failed": .number,
        "backoff": .number, "connections": .number, "held": .duration, "quiet": .duration,
        "window": .duration, "peer": .string, "peer_waiters": .number,
        "blocked": .duration, "blocked_fraction": .number, "blocked_for": .duration, "blocked_1s": .duration,
    ]) { identity, _ in identity }
    static let peerFields: [String: FieldType] = [
        "peer": .string, "waiters": .number, "stalled_waiters": .number, "retransmit_rate": .number, "retransmits": .number,
        "rtos": .number, "window": .duration, "blocked_waiters": .number, "blocked_for": .duration,
    ]
    static let connectionFields: [String: FieldType] = identityFields.merging([
        "pid": .number, "comm": .string, "saddr": .string, "sport": .number, "daddr": .string,
        "dport": .number, "retransmits": .number, "rtos": .number, "retransmit_rate": .number,
        "backoff": .number, "ca_state": .string, "quiet": .duration, "window": .duration, "blocked_for": .duration, "blocked_1s": .duration,
    ]) { identity, _ in identity }
    static let dropFields: [String: FieldType] = [
        "netns": .number, "reason": .string, "drops": .number, "rate": .number, "window": .duration,
    ]
}

/// The fields of an event, for event subjects and for what aggregates read.
enum EventFields {
    static let schema = FieldSchema(fields: [
        "event_type": .string, "pid": .number, "tid": .number, "uid": .number, "cgroup_id": .number,
        "comm": .string, "attribution": .string, "value": .number, "segments": .number, "cause": .string,
        "ca_state": .string, "previous_ca_state": .string, "backoff": .number, "family": .string,
        "saddr": .string, "daddr": .string, "sport": .number, "dport": .number, "tcp_state": .string,
        "reason": .string, "netns": .number, "error": .string, "exit_code": .number,
    ].merging(Subject.identityFields) { event, _ in event })

    /// The value of field `name` of `event`.
    static func value(_ name: String, of event: ProbeEvent, reasons: [UInt32: String], identity: IdentityCache.Entry?) -> Value {
        let owner = event.owner
        let connection = event.connection
        switch name {
        case "event_type": return .string(event.eventType.description)
        case "pid": return .number(Double(owner.pid))
        case "tid": return .number(Double(owner.tid))
        case "uid": return .number(Double(owner.uid))
        case "cgroup_id": return .number(Double(owner.cgroupID))
        case "comm": return .string(owner.command.description)
        case "attribution": return .string(owner.source.name.description)
        case "value", "segments":
            // `value` as on the event's line: segments for retransmits, 1
            // for the others, which have no segments.
            let isRetransmit = event.kind == .retransmit || event.kind == .synAckRetransmit
            if isRetransmit { return .number(Double(event.segments)) }
            return name == "value" ? .number(1) : .missing
        case "cause": return .string(event.cause.name.description)
        case "ca_state": return .string(event.congestionState.name.description)
        case "previous_ca_state": return .string(event.previousCongestionState.name.description)
        case "backoff": return .number(Double(event.backoff))
        case "family": return .string(connection.family.name.description)
        case "saddr": return .string(connection.localAddress.description)
        case "daddr": return .string(connection.remoteAddress.description)
        case "sport": return .number(Double(connection.localPort))
        case "dport": return .number(Double(connection.remotePort))
        case "tcp_state": return .string(connection.state.name.description)
        case "reason": return event.kind == .drop ? .string(reasons[event.dropReason] ?? "UNKNOWN_\(event.dropReason)") : .missing
        case "netns": return .number(Double(event.networkNamespace))
        case "error": return event.error == 0 ? .missing : .string(ErrorNumber.name(event.error))
        case "exit_code": return event.kind == .processExit ? .number(Double(event.dropReason)) : .missing
        default: return identity.value(name)
        }
    }
}
