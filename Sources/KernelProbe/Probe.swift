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
    public var ringBufferBytes: UInt32 = 1024 * 1024
    /// Optional features not to load (`retransmits` cannot be switched off).
    public var disabledFeatures: Set<ProbeFeature> = []
    /// Drop reasons (enum skb_drop_reason names without SKB_DROP_REASON_)
    /// the kernel only counts, per reason, instead of sending a record for
    /// each. Names this kernel does not have are ignored.
    public var countedOnlyDropReasons: Set<String> = ProbeOptions.teardownDropReasons

    /// A socket torn down with packets still queued (every short connection
    /// that closes before reading all it got gives one): not a network fault.
    public static let teardownDropReasons: Set<String> = ["QUEUE_PURGE", "SOCKET_CLOSE"]

    public init() {}
}

/// How the probe ended up attached, for the start-up report.
public struct AttachReport: Sendable {
    /// How tcp:tcp_retransmit_skb was attached.
    public let retransmitMode: AttachMode
    /// Every feature, in `ProbeFeature.allCases` order: on, fallback or off.
    public let features: [FeatureStatus]
    /// What the user switched off (no fallback may stand in for these).
    public let disabledFeatures: Set<ProbeFeature>

    /// Whether retransmits carry their outcome (err, kernels >= 6.17).
    public var reportsFailedRetransmits: Bool { status(of: .retransmits)?.program == "retransmit_btf" }
    /// Whether owners come from claims made in process context (true) or
    /// from the task on the CPU (no claim feature could load).
    public var attributesBySocketOwner: Bool {
        ProbeFeature.ownerClaims.contains { status(of: $0)?.state != .off }
    }
    /// Every program running, as "program -> hook".
    public var attachedHooks: [String] {
        features.compactMap { status in status.program.map { "\($0) -> \(status.hook ?? "")" } }
    }

    public func status(of feature: ProbeFeature) -> FeatureStatus? {
        features.first { $0.feature == feature }
    }
}

/// The loaded and attached eBPF probe. Records arrive through `consume`.
/// Releasing the probe detaches every hook.
public final class Probe {
    public let report: AttachReport
    /// Names of `enum skb_drop_reason` values on this kernel.
    public let dropReasonNames: [UInt32: String]
    /// The drop reasons (values) the kernel counts instead of sending.
    public let countedOnlyDropReasons: [UInt32]

    /// The links keep the programs attached; closing them detaches.
    private let links: [ProbeDescriptor]
    private let maps: [ProbeDescriptor]
    private let ring: RingBuffer
    private let reservationFailures: ProbeDescriptor
    private let readerSchedule: ReaderSchedule
    private let dropsCountedOnly: ProbeDescriptor
    private let congestionChangesCountedOnly: ProbeDescriptor
    private let cpuCount: Int

    /// Loads every feature this kernel has and accepts. A program the
    /// verifier refuses, or that cannot attach, switches its feature to the
    /// next way it has, or off; only a retransmit hook is required.
    ///
    /// The loading runs in a short-lived child process (`LoadingProcess`),
    /// which hands over the links and maps: the kernel's BTF, parsed to
    /// load, never counts in this process's memory.
    public init(options: ProbeOptions = ProbeOptions()) throws(ProbeError) {
        guard options.ringBufferBytes >= 4096,
              options.ringBufferBytes & (options.ringBufferBytes - 1) == 0 else {
            throw .invalidConfiguration("the ring buffer size must be a power of two of at least 4 KiB")
        }
        LibBPFLog.install()
        let missing = Capabilities.current().missing(for: .probe)
        if !missing.isEmpty { throw .missingCapabilities(missing) }
        let handover = try ProbeHandover.decode(try LoadingProcess.run {
            ProbeHandover.encode(Result { () throws(ProbeError) in try Self.load(options: options) })
        })
        links = handover.links.enumerated().map { ProbeDescriptor($1, name: "link \($0)") }
        let maps = handover.maps.map { ProbeDescriptor($0.descriptor, name: $0.name) }
        self.maps = maps
        func map(_ name: String) throws(ProbeError) -> ProbeDescriptor {
            guard let map = maps.first(where: { $0.name == name }) else {
                throw .loadingProcessFailed("the process that loads the probe handed over no map \(name)")
            }
            return map
        }
        ring = try RingBuffer(map: map("ark_records"), bytes: options.ringBufferBytes)
        reservationFailures = try map("ring_reservation_failures")
        readerSchedule = try ReaderSchedule(map: map("ring_reader"))
        // A quarter: a burst wakes a reader that paces itself slowly well
        // before the ring is full.
        readerSchedule.wakeWhenQueued(bytes: UInt64(options.ringBufferBytes / 4))
        dropsCountedOnly = try map("drops_counted_only")
        congestionChangesCountedOnly = try map("congestion_changes_counted_only")
        cpuCount = Int(libbpf_num_possible_cpus())
        dropReasonNames = handover.dropReasonNames
        countedOnlyDropReasons = Self.countedOnlyDropReasons(options: options, names: handover.dropReasonNames)
        report = AttachReport(retransmitMode: handover.retransmitMode, features: handover.features,
                              disabledFeatures: options.disabledFeatures)
    }

    /// In the loading process: reads the kernel's BTF, loads, attaches and
    /// walks the existing sockets; what the agent needs of it.
    private static func load(options: ProbeOptions) throws(ProbeError) -> ProbeHandover {
        let (kernel, dropReasonNames) = try readKernelBTF()
        let (object, links, loadedPlan, environmentRefusal) = try loadAndAttach(
            options: options, kernel: kernel,
            countedOnlyDropReasons: countedOnlyDropReasons(options: options, names: dropReasonNames))
        var plan = loadedPlan
        plan.reportLauncherEnvironment(disabled: options.disabledFeatures.contains(.launcherEnvironment),
                                       refusal: environmentRefusal)
        // Run once, after every hook is attached, so no socket is missed.
        for variant in plan.attachOrder where variant.hook == .taskFileIterator {
            do throws(ProbeError) {
                try object.program(named: variant.program).runIterator()
            } catch {
                plan.markFailed(variant.feature, reason: "the walk failed: \(error)")
            }
        }
        let maps = object.maps.map { ProbeHandover.Map(name: $0.name, descriptor: $0.fileDescriptor) }
        // Never released: this process exits once it has handed the
        // descriptors over, and releasing would close them before they are
        // sent (and disable perf-event attachments the agent shares).
        _ = Unmanaged.passRetained(object)
        links.forEach { _ = Unmanaged.passRetained($0) }
        return ProbeHandover(retransmitMode: plan.chosen[.retransmits]?.mode ?? .tpBTF, features: plan.statuses,
                             dropReasonNames: dropReasonNames, links: links.map { bpf_link__fd($0.handle) },
                             maps: maps)
    }

    /// The drop reasons (values) the kernel counts instead of sending.
    private static func countedOnlyDropReasons(options: ProbeOptions, names: [UInt32: String]) -> [UInt32] {
        names.filter { options.countedOnlyDropReasons.contains($0.value) && $0.key < ARK_DROP_REASONS }.keys.sorted()
    }

    /// What the agent needs of the running kernel's BTF. The parse is freed
    /// on return, before libbpf parses the BTF again to load: the two would
    /// add up at start-up.
    private static func readKernelBTF() throws(ProbeError) -> (KernelFacts, [UInt32: String]) {
        let btf = try KernelBTF()
        return (KernelFacts(btf: btf), btf.enumNames("skb_drop_reason", droppingPrefix: "SKB_DROP_REASON_"))
    }

    /// Loads the best plan the kernel accepts: each program it refuses (at
    /// load or attach) is left out of the next plan, until one loads whole.
    /// A claim program refused while it copies environments is first tried
    /// without (a constant the verifier then prunes): owners matter more.
    /// Likewise a program refused while owners are read from socket storage
    /// (bpf/probe.bpf.h `send_claim`) is first tried with the owner table
    /// alone. Also returns why the environment copy was refused, if it was.
    private static func loadAndAttach(options: ProbeOptions, kernel: KernelFacts, countedOnlyDropReasons: [UInt32])
        throws(ProbeError) -> (BPFObject, [BPFLink], FeaturePlan, String?) {
        var countedOnly = [UInt64](repeating: 0, count: Int(ARK_DROP_REASON_WORDS))
        for reason in countedOnlyDropReasons { countedOnly[Int(reason / 64)] |= 1 << (reason % 64) }
        let image = EmbeddedObject.bytes()
        // Programs this kernel refused so far, and why.
        var refused: [String: String] = [:]
        var copiesEnvironment = !options.disabledFeatures.contains(.launcherEnvironment)
        var environmentRefusal: String?
        var ownersInStorageRefused = false
        while true {
            let plan = FeaturePlan(options: options, kernel: kernel, refused: refused)
            guard plan.chosen[.retransmits] != nil else {
                throw .attachFailed(hook: "tcp:tcp_retransmit_skb", attempts: plan.retransmitAttempts)
            }
            // Only the socket-storage send hook keeps the owner's copy.
            let ownersInStorage = !ownersInStorageRefused
                && plan.chosen[.ownersOnSend]?.program == "claim_on_sendmsg"
            let object = try BPFObject(image: image, name: "ark_probe")
            try object.map(named: "ark_records").setMaxEntries(options.ringBufferBytes)
            try object.setReadOnlyGlobal(named: "probe_config", to: ark_probe_config(
                socket_cookie_helper: kernel.tracingMaySocketCookie ? 1 : 0,
                owner_from_current_task: plan.claimsOwners ? 0 : 1,
                copies_process_environment: copiesEnvironment ? 1 : 0,
                owners_in_socket_storage: ownersInStorage ? 1 : 0,
                pad: (0, 0, 0, 0),
                counted_only_drop_reasons: (countedOnly[0], countedOnly[1], countedOnly[2], countedOnly[3])))
            object.loadOnly(Set(plan.chosen.values.map(\.program)))
            do throws(ProbeError) {
                try object.load()
            } catch {
                guard case .loadFailed(_, _, let log) = error,
                      let program = VerifierLog(log).failedProgram, plan.contains(program) else { throw error }
                let reason = "refused by the kernel: " + VerifierLog(log).finalLines.joined(separator: " | ")
                if copiesEnvironment, program.hasPrefix("claim_") {
                    copiesEnvironment = false
                    environmentRefusal = "\(program) \(reason)"
                } else if ownersInStorage, Self.readsOwnersFromStorage(program) {
                    ownersInStorageRefused = true
                } else {
                    refused[program] = reason
                }
                continue
            }
            var links: [BPFLink] = []
            var attachFailure: (String, ProbeError)?
            for variant in plan.attachOrder where variant.hook != .taskFileIterator {
                do throws(ProbeError) {
                    links.append(try object.program(named: variant.program).attach(to: variant.hook))
                } catch {
                    if case .permissionDenied = error { throw error }
                    attachFailure = (variant.program, error)
                    break
                }
            }
            if let (program, error) = attachFailure {
                refused[program] = "cannot attach: \(error)"
                continue
            }
            return (object, links, plan, environmentRefusal)
        }
    }

    /// The programs that read or clear the owner copy in socket storage
    /// when `owners_in_socket_storage` is set.
    private static func readsOwnersFromStorage(_ program: String) -> Bool {
        program.hasPrefix("claim_") || program.hasPrefix("retransmit_btf") || program == "retransmit_synack"
            || program == "cong_state_change"
    }

    /// An epoll descriptor, readable when records wait; for the caller's loop.
    public var pollDescriptor: Int32 { ring.pollDescriptor }

    /// Hands every waiting record to `body`, in place, but no more than the
    /// ring buffer holds (a flood must not keep one call going); returns how
    /// many. Records still waiting keep `pollDescriptor` readable.
    /// A socket owner's environment comes to `environment` as the raw
    /// `ark_process_environment` sample (its data as long as the kernel sent).
    @discardableResult
    public func consume(_ body: (UnsafePointer<ark_record>) -> Void,
                        environment: (UnsafeRawBufferPointer) -> Void = { _ in }) throws(ProbeError) -> Int {
        try ring.consume(body, environment: environment)
    }

    /// Until when (CLOCK_MONOTONIC ns) the caller reads the ring on its own
    /// schedule without being woken (bpf/ark_probe.h): records submitted
    /// before then do not wake it, unless a quarter of the ring is unread.
    /// The programs set it too, when they wake a reader whose window had
    /// passed.
    public var readsUntil: UInt64 {
        get { readerSchedule.readsUntil }
        set { readerSchedule.readsUntil = newValue }
    }

    /// Records the kernel could not queue because the ring buffer was full,
    /// since the probe was loaded.
    public func lostRecords() throws(ProbeError) -> UInt64 {
        try reservationFailures.perCPUSum(key: 0, cpus: cpuCount)
    }

    /// Drops the kernel counted instead of sending (`countedOnlyDropReasons`),
    /// by reason value, since load.
    public func countedOnlyDrops() throws(ProbeError) -> [UInt32: UInt64] {
        var counts: [UInt32: UInt64] = [:]
        for reason in countedOnlyDropReasons {
            counts[reason] = try dropsCountedOnly.perCPUSum(key: reason, cpus: cpuCount)
        }
        return counts
    }

    /// Congestion-state changes the kernel counted instead of sending
    /// (all but leaving Loss and CWR's; bpf/congestion.bpf.c), since load.
    public func countedOnlyCongestionChanges() throws(ProbeError) -> UInt64 {
        try congestionChangesCountedOnly.perCPUSum(key: 0, cpus: cpuCount)
    }

    /// Samples of the wrong size (an object/agent mismatch), since load.
    public var malformedRecords: UInt64 { ring.malformedRecords }
}

/// Which variant of each feature to load, given what the kernel has, what
/// it refused so far, and what the user switched off.
struct FeaturePlan {
    private(set) var chosen: [ProbeFeature: FeatureVariant] = [:]
    private(set) var statuses: [FeatureStatus] = []
    /// Why each retransmit way was passed over, for the error when none is left.
    private(set) var retransmitAttempts: [AttachAttempt] = []

    init(options: ProbeOptions, kernel: KernelFacts, refused: [String: String]) {
        for feature in ProbeFeature.allCases where feature != .launcherEnvironment {
            var variants = FeatureVariant.all.filter { $0.feature == feature }
            var passedOver: [String] = []
            if feature == .retransmits {
                let allowed = options.attachModes.flatMap { mode in variants.filter { $0.mode == mode } }
                if let best = variants.first, best.program != allowed.first?.program {
                    passedOver.append("\(best.mode?.rawValue ?? best.program): not in --attach")
                }
                variants = allowed
            } else if options.disabledFeatures.contains(feature) {
                statuses.append(FeatureStatus(feature: feature, state: .off, program: nil, hook: nil,
                                              reason: "switched off (--disable \(feature.rawValue))"))
                continue
            }
            for variant in variants {
                let reason = refused[variant.program] ?? variant.unavailability(kernel)
                if let reason {
                    // Variants that differ only in how they work share their reason: say it once.
                    if !passedOver.contains(where: { $0.hasSuffix(": " + reason) }) {
                        passedOver.append("\(variant.program): \(reason)")
                    }
                    if let mode = variant.mode { retransmitAttempts.append(AttachAttempt(mode: mode, reason: reason)) }
                    continue
                }
                chosen[feature] = variant
                break
            }
            let variant = chosen[feature]
            if let caveat = variant?.caveat { passedOver.append(caveat) }
            statuses.append(FeatureStatus(
                feature: feature,
                state: variant == nil ? .off : passedOver.isEmpty ? .on : .fallback,
                program: variant?.program, hook: variant?.hook.description,
                reason: passedOver.isEmpty ? nil : passedOver.joined(separator: "; ")))
        }
    }

    func contains(_ program: String) -> Bool { chosen.values.contains { $0.program == program } }

    /// The launcher environment's status, last: it rides on the claim programs.
    mutating func reportLauncherEnvironment(disabled: Bool, refusal: String?) {
        let hooks = ProbeFeature.ownerClaims.compactMap { chosen[$0] }.filter { $0.hook != .taskFileIterator }
        let reason: String? = if disabled {
            "switched off (--disable \(ProbeFeature.launcherEnvironment.rawValue))"
        } else if let refusal {
            refusal
        } else if hooks.isEmpty {
            "no owner-claiming hook runs in the processes' own context"
        } else {
            nil
        }
        // No program or hook of its own: the claim programs above carry it.
        statuses.append(FeatureStatus(feature: .launcherEnvironment, state: reason == nil ? .on : .off,
                                      program: nil, hook: nil, reason: reason))
    }

    /// Whether any owner-claiming program is in the plan.
    var claimsOwners: Bool { ProbeFeature.ownerClaims.contains { chosen[$0] != nil } }

    /// The chosen programs in feature order.
    var attachOrder: [FeatureVariant] { ProbeFeature.allCases.compactMap { chosen[$0] } }

    /// A feature that loaded but did not work after all.
    mutating func markFailed(_ feature: ProbeFeature, reason: String) {
        guard let index = statuses.firstIndex(where: { $0.feature == feature }) else { return }
        let previous = statuses[index].reason.map { $0 + "; " } ?? ""
        statuses[index] = FeatureStatus(feature: feature, state: .off, program: nil, hook: nil,
                                        reason: previous + "\(statuses[index].program ?? ""): \(reason)")
        chosen[feature] = nil
    }
}
