import CArkProbeRecords
import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// What the probe should capture and how it may attach.
public struct ProbeOptions: Sendable {
    /// Ways to attach the retransmit hook, tried in this order.
    public var attachModes: [AttachMode] = AttachMode.allCases
    /// Ring buffer size in bytes: a power of two, at least one page.
    public var ringBufferBytes: UInt32 = 512 * 1024
    /// Also report kernel drops of TCP packets (skb:kfree_skb).
    public var captureDrops = true
    /// Also report congestion-control state changes.
    public var captureCongestionState = true

    public init() {}
}

/// How the probe ended up attached, for the start-up report.
public struct AttachReport: Sendable {
    /// How tcp:tcp_retransmit_skb was attached.
    public let retransmitMode: AttachMode
    /// Modes tried before it, and why they failed.
    public let failedAttempts: [AttachAttempt]
    /// Every attached program, as "program -> hook".
    public let attachedHooks: [String]
    /// Whether retransmits carry their outcome (err, kernels >= 6.17).
    public let reportsFailedRetransmits: Bool
    /// Whether owners come from socket storage (true) or the current task.
    public let attributesBySocketOwner: Bool
}

/// The loaded and attached eBPF probe. Records arrive through `consume`.
/// Releasing the probe detaches every hook.
public final class Probe {
    public let report: AttachReport
    /// Names of `enum skb_drop_reason` values on this kernel.
    public let dropReasonNames: [UInt32: String]

    private let object: BPFObject
    private let links: [BPFLink]
    private let ring: RingBuffer
    private let reservationFailures: BPFMap
    private let cpuCount: Int

    public init(options: ProbeOptions = ProbeOptions()) throws(ProbeError) {
        guard options.ringBufferBytes >= 4096,
              options.ringBufferBytes & (options.ringBufferBytes - 1) == 0 else {
            throw .invalidConfiguration("the ring buffer size must be a power of two of at least 4 KiB")
        }
        LibBPFLog.install()
        let missing = Capabilities.current().missing(for: .probe)
        if !missing.isEmpty { throw .missingCapabilities(missing) }
        let btf = try KernelBTF()
        let image = EmbeddedObject.bytes()
        var failed: [AttachAttempt] = []
        var attached: (BPFObject, [BPFLink], AttachPlan)?
        for mode in options.attachModes {
            do {
                let plan = try AttachPlan(mode: mode, options: options, btf: btf)
                let object = try BPFObject(image: image, name: "ark_probe")
                try object.map(named: "ark_records").setMaxEntries(options.ringBufferBytes)
                object.loadOnly(Set(plan.programs.map(\.program) + plan.iterators))
                try object.load()
                var links: [BPFLink] = []
                for hook in plan.programs {
                    links.append(try hook.attach(object.program(named: hook.program)))
                }
                attached = (object, links, plan)
                break
            } catch {
                failed.append(AttachAttempt(mode: mode, reason: error.description))
                if case .permissionDenied = error, mode == options.attachModes.last,
                   failed.allSatisfy({ $0.reason.contains("permission denied") }) {
                    throw error
                }
            }
        }
        guard let (object, links, plan) = attached else {
            throw .attachFailed(hook: "tcp:tcp_retransmit_skb", attempts: failed)
        }
        for iterator in plan.iterators {
            try object.program(named: iterator).runIterator()
        }
        self.object = object
        self.links = links
        ring = try RingBuffer(map: object.map(named: "ark_records"), bytes: options.ringBufferBytes)
        reservationFailures = try object.map(named: "ring_reservation_failures")
        cpuCount = Int(libbpf_num_possible_cpus())
        dropReasonNames = btf.enumNames("skb_drop_reason", droppingPrefix: "SKB_DROP_REASON_")
        report = AttachReport(
            retransmitMode: plan.mode,
            failedAttempts: failed,
            attachedHooks: plan.programs.map { "\($0.program) -> \($0.hookDescription)" }
                + plan.iterators.map { "\($0) -> iter/task_file (ran once)" },
            reportsFailedRetransmits: plan.reportsFailedRetransmits,
            attributesBySocketOwner: plan.mode == .tpBTF
        )
    }

    /// An epoll descriptor, readable when records wait; for the caller's loop.
    public var pollDescriptor: Int32 { ring.pollDescriptor }

    /// Hands every waiting record to `body`, in place, but no more than the
    /// ring buffer holds (a flood must not keep one call going); returns how
    /// many. Records still waiting keep `pollDescriptor` readable.
    @discardableResult
    public func consume(_ body: @escaping (UnsafePointer<ark_record>) -> Void) throws(ProbeError) -> Int {
        try ring.consume(body)
    }

    /// Records the kernel could not queue because the ring buffer was full,
    /// since the probe was loaded.
    public func lostRecords() throws(ProbeError) -> UInt64 {
        try reservationFailures.perCPUSum(key: 0, cpus: cpuCount)
    }

    /// Samples of the wrong size (an object/agent mismatch), since load.
    public var malformedRecords: UInt64 { ring.malformedRecords }
}

/// Which programs to load for an attach mode, and where each goes.
struct AttachPlan {
    struct Hook {
        let program: String
        let hookDescription: String
        let attach: (BPFProgram) throws(ProbeError) -> BPFLink
    }

    let mode: AttachMode
    private(set) var programs: [Hook] = []
    /// Iterator programs to load and run once after attaching.
    private(set) var iterators: [String] = []
    private(set) var reportsFailedRetransmits = false

    init(mode: AttachMode, options: ProbeOptions, btf: KernelBTF) throws(ProbeError) {
        self.mode = mode
        switch mode {
        case .tpBTF:
            guard let arguments = btf.tracepointArgumentCount("tcp_retransmit_skb") else {
                throw .kernelTooOld(feature: "tp_btf for tcp_retransmit_skb",
                                    detail: "no btf_trace_tcp_retransmit_skb in kernel BTF")
            }
            reportsFailedRetransmits = arguments >= 3
            addBTF(reportsFailedRetransmits ? "retransmit_btf" : "retransmit_btf_noerr", "tcp_retransmit_skb")
            addBTF("retransmit_synack", "tcp_retransmit_synack", if: btf)
            addBTF("claim_on_state_change", "inet_sock_set_state", if: btf)
            addBTF("claim_on_sendmsg", "tcp_sendmsg_locked", if: btf)
            addBTF("claim_on_receive", "tcp_rcv_space_adjust", if: btf)
            addBTF("socket_owner_exit", "sched_process_exit", if: btf)
            if options.captureCongestionState { addBTF("cong_state_change", "tcp_cong_state_set", if: btf) }
            if options.captureDrops, let arguments = btf.tracepointArgumentCount("kfree_skb"), arguments >= 3 {
                addBTF(arguments >= 4 ? "tcp_packet_drop_rx_sk" : "tcp_packet_drop", "kfree_skb")
            }
            // Run once, after every hook is attached, so no socket is missed.
            iterators = ["claim_existing_sockets"]
        case .tracepoint:
            let tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
                .first { access($0 + "/events/tcp/tcp_retransmit_skb", F_OK) == 0 }
            guard tracefs != nil else {
                throw .invalidConfiguration(
                    "tracefs is not mounted (mount it: mount -t tracefs tracefs /sys/kernel/tracing)")
            }
            reportsFailedRetransmits = btf.hasStruct("trace_event_raw_tcp_retransmit_skb")
            programs.append(Hook(program: "retransmit_tracepoint", hookDescription: "tracepoint tcp/tcp_retransmit_skb") {
                (program: BPFProgram) throws(ProbeError) in try program.attachTracepoint(category: "tcp", name: "tcp_retransmit_skb")
            })
        case .kprobe:
            programs.append(Hook(program: "retransmit_kprobe", hookDescription: "kprobe tcp_retransmit_skb") {
                (program: BPFProgram) throws(ProbeError) in
                do throws(ProbeError) {
                    return try program.attachKprobe(function: "tcp_retransmit_skb")
                } catch {
                    guard case .system(_, let code) = error, code == ENOENT || code == EOPNOTSUPP else { throw error }
                    throw .hookUnavailable(
                        hook: "kprobe on tcp_retransmit_skb()",
                        reason: "\(errnoName(code)); the kernel has no kprobe support (CONFIG_KPROBES) or does not expose the function")
                }
            })
        }
    }

    private mutating func addBTF(_ program: String, _ tracepoint: String) {
        programs.append(Hook(program: program, hookDescription: "tp_btf \(tracepoint)") {
            (program: BPFProgram) throws(ProbeError) in try program.attach()
        })
    }

    /// Adds a tp_btf hook only if this kernel has the tracepoint.
    private mutating func addBTF(_ program: String, _ tracepoint: String, if btf: KernelBTF) {
        if btf.tracepointArgumentCount(tracepoint) != nil { addBTF(program, tracepoint) }
    }
}
