import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// A capability of the probe. Each is one program of the embedded object,
/// chosen among the ways the running kernel allows (best first); every
/// feature but `retransmits` may be off, and the probe says why.
public enum ProbeFeature: String, CaseIterable, Sendable {
    case retransmits
    case synackRetransmits = "synack-retransmits"
    case ownersOnStateChange = "owners-on-state-change"
    case ownersOnSend = "owners-on-send"
    case ownersOnReceive = "owners-on-receive"
    case existingSockets = "existing-sockets"
    case congestionStates = "congestion-states"
    case drops
    case processExits = "process-exits"
    /// Not a program of its own: the claim programs copy each socket
    /// owner's environment (the launcher's rank and job) when it first
    /// claims a socket. Off when no claim program runs.
    case launcherEnvironment = "launcher-environment"

    /// What the feature gives, for `ark-probe features`.
    public var summary: String {
        switch self {
        case .retransmits: "TCP retransmissions (required)"
        case .synackRetransmits: "SYN-ACK retransmissions of listeners"
        case .ownersOnStateChange: "owners claimed at connect, listen, accept and close"
        case .ownersOnSend: "owners claimed at every send"
        case .ownersOnReceive: "owners claimed at receive (receive-only sockets)"
        case .existingSockets: "owners of sockets opened before the agent started (one walk at start)"
        case .congestionStates: "congestion-control state changes"
        case .drops: "kernel drops of TCP packets, with the reason"
        case .processExits: "exits of socket owners"
        case .launcherEnvironment: "each socket owner's launcher environment (rank, job), copied at its first claim"
        }
    }

    /// Features that record socket owners in process context.
    static let ownerClaims: [ProbeFeature] = [.ownersOnStateChange, .ownersOnSend, .ownersOnReceive, .existingSockets]
}

/// How a program attaches.
enum Hook: Equatable, Sendable {
    case tpBTF(String)
    case tracepoint(category: String, name: String)
    case kprobe(String)
    /// A `task_file` iterator, run once after every hook is attached.
    case taskFileIterator

    var description: String {
        switch self {
        case .tpBTF(let name): "tp_btf/\(name)"
        case .tracepoint(let category, let name): "tracepoint/\(category)/\(name)"
        case .kprobe(let function): "kprobe/\(function)"
        case .taskFileIterator: "iter/task_file"
        }
    }
}

/// One way of providing a feature: a program, its hook, and what it needs
/// from the kernel, checked before load.
struct FeatureVariant: Sendable {
    let feature: ProbeFeature
    let program: String
    let hook: Hook
    /// For the retransmit hook: the attach mode it stands for.
    var mode: AttachMode? = nil
    /// What is lost by running this way, said when it is chosen.
    var caveat: String? = nil
    /// Why this kernel cannot run it, or nil if it can (as far as can be told
    /// before load: the verifier may still refuse it).
    let unavailability: @Sendable (KernelFacts) -> String?

    /// Every variant, best first within a feature.
    static let all: [FeatureVariant] = [
        FeatureVariant(feature: .retransmits, program: "retransmit_btf", hook: .tpBTF("tcp_retransmit_skb"), mode: .tpBTF) {
            switch $0.tracepointArguments("tcp_retransmit_skb") {
            case nil: "no tp_btf tracepoint tcp_retransmit_skb (btf_trace_tcp_retransmit_skb) in kernel BTF"
            case let count? where count < 3: "tcp_retransmit_skb has no err argument before 6.17 (failed retransmits are not reported)"
            default: nil
            }
        },
        FeatureVariant(feature: .retransmits, program: "retransmit_btf_noerr", hook: .tpBTF("tcp_retransmit_skb"), mode: .tpBTF) {
            $0.tracepointArguments("tcp_retransmit_skb") == nil
                ? "no tp_btf tracepoint tcp_retransmit_skb (btf_trace_tcp_retransmit_skb) in kernel BTF" : nil
        },
        FeatureVariant(feature: .retransmits, program: "retransmit_tracepoint",
                       hook: .tracepoint(category: "tcp", name: "tcp_retransmit_skb"), mode: .tracepoint) {
            $0.tracefsUnavailability()
        },
        FeatureVariant(feature: .retransmits, program: "retransmit_kprobe", hook: .kprobe("tcp_retransmit_skb"), mode: .kprobe,
                       caveat: "a kprobe runs before the kernel decides what to send: it counts attempts, "
                           + "at least the segments really retransmitted") { _ in nil },
        .btf(.synackRetransmits, "retransmit_synack", "tcp_retransmit_synack"),
        .btf(.ownersOnStateChange, "claim_on_state_change", "inet_sock_set_state"),
        .btf(.ownersOnSend, "claim_on_sendmsg", "tcp_sendmsg_locked"),
        .btf(.ownersOnSend, "claim_on_sendmsg_plain", "tcp_sendmsg_locked"),
        .btf(.ownersOnReceive, "claim_on_receive", "tcp_rcv_space_adjust"),
        FeatureVariant(feature: .existingSockets, program: "claim_existing_sockets", hook: .taskFileIterator) {
            $0.hasTaskFileIterator ? nil : "no task_file iterator (bpf_iter__task_file) in kernel BTF"
        },
        .btf(.congestionStates, "cong_state_change", "tcp_cong_state_set"),
        FeatureVariant(feature: .drops, program: "tcp_packet_drop_rx_sk", hook: .tpBTF("kfree_skb")) {
            switch $0.tracepointArguments("kfree_skb") {
            case nil: "no tp_btf tracepoint kfree_skb in kernel BTF"
            case let count? where count < 4: "kfree_skb has no rx_sk argument before 6.12"
            default: nil
            }
        },
        FeatureVariant(feature: .drops, program: "tcp_packet_drop", hook: .tpBTF("kfree_skb")) {
            switch $0.tracepointArguments("kfree_skb") {
            case nil: "no tp_btf tracepoint kfree_skb in kernel BTF"
            case let count? where count < 3: "kfree_skb carries no drop reason before 5.17"
            default: nil
            }
        },
        FeatureVariant(feature: .processExits, program: "socket_owner_exit", hook: .tpBTF("sched_process_exit")) {
            if $0.tracepointArguments("sched_process_exit") == nil {
                "no tp_btf tracepoint sched_process_exit (btf_trace_sched_process_exit) in kernel BTF"
            } else if !$0.acceptsAtomicExchange {
                "the verifier refuses BPF atomic exchanges before 5.12 (each owner's exit costs a map delete)"
            } else {
                nil
            }
        },
        .btf(.processExits, "socket_owner_exit_deleting", "sched_process_exit"),
    ]

    /// A tp_btf program that needs only its tracepoint.
    static func btf(_ feature: ProbeFeature, _ program: String, _ tracepoint: String) -> FeatureVariant {
        FeatureVariant(feature: feature, program: program, hook: .tpBTF(tracepoint)) {
            $0.tracepointArguments(tracepoint) == nil
                ? "no tp_btf tracepoint \(tracepoint) (btf_trace_\(tracepoint)) in kernel BTF" : nil
        }
    }
}

/// What the running kernel offers, asked once per start. What comes from
/// its BTF is read at once, so that the parsed BTF (~11 MB on 6.18) can be
/// freed before libbpf parses its own to load the programs.
final class KernelFacts {
    /// Arguments of each tp_btf tracepoint a program attaches to, where the
    /// kernel has it.
    private let tracepointArgumentCounts: [String: Int]
    let hasTaskFileIterator: Bool
    /// bpf_get_socket_cookie() on a tracing program's socket (5.12+): the
    /// function behind it exists only where it is allowed.
    let tracingMaySocketCookie: Bool
    /// BPF atomic exchange (5.12+), asked of the verifier itself: kernels
    /// with backports have it earlier.
    let acceptsAtomicExchange: Bool
    private var tracefsChecked: String??

    init(btf: KernelBTF) {
        var counts: [String: Int] = [:]
        for variant in FeatureVariant.all {
            guard case .tpBTF(let tracepoint) = variant.hook else { continue }
            counts[tracepoint] = btf.tracepointArgumentCount(tracepoint)
        }
        tracepointArgumentCounts = counts
        hasTaskFileIterator = btf.hasStruct("bpf_iter__task_file")
        tracingMaySocketCookie = btf.hasFunction("bpf_get_socket_ptr_cookie")
        acceptsAtomicExchange = Self.verifierAcceptsAtomicExchange()
    }

    /// Loads `*(u64 *)(r10 - 8) = 0; r1 = 1; r1 = xchg(r10 - 8, r1);
    /// return 0` as a socket filter.
    private static func verifierAcceptsAtomicExchange() -> Bool {
        func instruction(_ code: Int32, destination: UInt8 = 0, source: UInt8 = 0, offset: Int16 = 0,
                         immediate: Int32 = 0) -> bpf_insn {
            var instruction = bpf_insn()
            instruction.code = UInt8(code)
            instruction.dst_reg = destination
            instruction.src_reg = source
            instruction.off = offset
            instruction.imm = immediate
            return instruction
        }
        let frame: UInt8 = 10
        let program = [
            instruction(BPF_ST | BPF_MEM | BPF_DW, destination: frame, offset: -8),
            instruction(BPF_ALU64 | BPF_MOV | BPF_K, destination: 1, immediate: 1),
            instruction(BPF_STX | BPF_ATOMIC | BPF_DW, destination: frame, source: 1, offset: -8,
                        immediate: BPF_XCHG),
            instruction(BPF_ALU64 | BPF_MOV | BPF_K, destination: 0),
            instruction(BPF_JMP | BPF_EXIT),
        ]
        let descriptor = program.withUnsafeBufferPointer {
            bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "ark_xchg_probe", "GPL", $0.baseAddress, $0.count, nil)
        }
        guard descriptor >= 0 else { return false }
        close(descriptor)
        return true
    }

    func tracepointArguments(_ name: String) -> Int? { tracepointArgumentCounts[name] }

    /// Classic tracepoints need tracefs. Mounts it where it is missing and
    /// the agent may; otherwise says how.
    func tracefsUnavailability() -> String? {
        if let known = tracefsChecked { return known }
        let mountPoint = "/sys/kernel/tracing"
        let event = "/events/tcp/tcp_retransmit_skb"
        var answer: String? = nil
        if access(mountPoint + event, F_OK) != 0 && access("/sys/kernel/debug/tracing" + event, F_OK) != 0 {
            if mount("tracefs", mountPoint, "tracefs", 0, nil) != 0 {
                answer = "tracefs is not mounted and ark-probe could not mount it (\(errnoName(errno))); "
                    + "mount it as root: mount -t tracefs tracefs \(mountPoint)"
            } else if access(mountPoint + event, F_OK) != 0 {
                answer = "tracefs has no tcp/tcp_retransmit_skb event"
            }
        }
        tracefsChecked = .some(answer)
        return answer
    }
}

/// How one feature ended up on this kernel.
public struct FeatureStatus: Equatable, Sendable {
    public enum State: String, Sendable {
        /// The best way this feature has.
        case on
        /// Running, but a lesser way than the best: `reason` says why.
        case fallback
        /// Not running: `reason` says why.
        case off
    }

    public let feature: ProbeFeature
    public let state: State
    /// The program chosen and its hook, when on.
    public let program: String?
    public let hook: String?
    /// Why the best way was not used (fallback) or nothing runs (off).
    public let reason: String?
}
