import CArkProbeRecords
import CLinux
import KernelProbe
import Metrics
import ProbeEvents
import RuleEngine
import StateGraph
import WorkloadIdentity
#if canImport(Glibc)
import Glibc
#endif

/// How the agent runs: what it writes, and for how long.
public struct AgentConfiguration: Sendable {
    /// Filter, what to write, graph bounds, tick interval.
    public var pipeline = Pipeline.Options()
    /// Stop after this many seconds; nil: until SIGINT/SIGTERM.
    public var duration: Double?
    /// How long records may wait in the ring for a read, in nanoseconds
    /// (`RingPacing`); nil: a few records per read, at most 4 ms.
    public var lineDelayNanoseconds: UInt64?
    /// How often the kernel's lost-record counter is read, in milliseconds.
    public var lossCheckIntervalMilliseconds: Int32 = 1000
    /// Every this many seconds `progress` is called (0: never).
    public var progressIntervalSeconds = 0.0
    public var progress: (@Sendable (AgentProgress) -> Void)?
    /// Called on the agent's thread with every batch of alerts the rules
    /// raised or resolved, after their lines are written (e.g. to push them
    /// to Alertmanager). It must not block.
    public var alertObserver: (@Sendable ([Alert]) -> Void)?
    /// Series bounds of the metrics endpoint (with a `MetricsServer`).
    public var metrics = MetricsOptions()
    /// Called on the agent's thread on every scrape, after the agent's own
    /// families, to append more (e.g. the Alertmanager push's counters).
    /// It must not block.
    public var extraMetrics: (@Sendable (inout MetricsText) -> Void)?

    public init() {}
}

/// How far a run has come, for progress reports.
public struct AgentProgress: Sendable {
    public let elapsedSeconds: Double
    public let recordsRead: UInt64
    public let eventsWritten: UInt64
    public let lostRecords: UInt64
}

/// Why the agent stopped.
public enum AgentStop: Equatable, Sendable {
    case signal(Int32)
    case durationElapsed
    /// The reader of the output went away.
    case outputClosed
}

public struct AgentResult: Sendable {
    public let stop: AgentStop
    /// The state graph when the run ended, and that moment in kernel time.
    public let graph: StateGraph
    public let endTime: UInt64
    public let totals: ProcessTotals
    public let recordsRead: UInt64
    public let eventsWritten: UInt64
    public let lostRecords: UInt64
    public let malformedRecords: UInt64
}

public enum AgentError: Error, CustomStringConvertible {
    case probe(ProbeError)
    case output(LineOutput.Failure)
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .probe(let error): error.description
        case .output(let error): error.description
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The live agent: kernel records -> events -> `Pipeline` -> JSONL.
/// Single-threaded: one epoll loop over the ring buffer and a signalfd,
/// flushing after every batch so a line reaches the reader within
/// milliseconds of the kernel event.
public final class Agent {
    private let probe: Probe
    private let output: LineOutput
    private let configuration: AgentConfiguration
    private let pipeline: Pipeline
    private let identity: AgentIdentity
    private var recordsRead: UInt64 = 0
    private var unknownKindRecords: UInt64 = 0
    /// The pid whose identity was last checked: a run of events of one
    /// process checks once.
    private var lastIdentifiedPid: UInt32 = 0
    /// Without a kernel copy, /proc/PID/environ is the fallback, unless
    /// the user switched launcher environments off.
    private var readsEnvironmentFromProc: Bool { !probe.report.disabledFeatures.contains(.launcherEnvironment) }
    /// With a metrics server: what the scrapes report.
    private let metricsServer: MetricsServer?
    private var metrics: AgentMetrics?
    private var counters: EventCounters?
    private var lostReported: UInt64 = 0
    /// Ticks run this long after their boundary when idle, so that records
    /// stamped just before it, still in the ring, are processed first.
    private let tickGrace: UInt64 = 50_000_000
    /// Output is written once this much is buffered, even mid-batch.
    private let outputBatchBytes = 32 * 1024
    /// A write that failed while the ring was drained, thrown after it.
    private var outputFailure: AgentError?

    /// `metricsServer`: serve `/metrics` from this agent's state, in its loop.
    public init(probe: Probe, output: LineOutput, configuration: AgentConfiguration,
                metricsServer: MetricsServer? = nil) {
        self.probe = probe
        self.output = output
        self.configuration = configuration
        self.metricsServer = metricsServer
        var pipelineOptions = configuration.pipeline
        if configuration.alertObserver != nil || metricsServer != nil { pipelineOptions.keepsAlerts = true }
        pipeline = Pipeline(options: pipelineOptions, clock: WallClock.measure(),
                            dropReasonNames: probe.dropReasonNames)
        identity = AgentIdentity.current()
        if metricsServer != nil {
            metrics = AgentMetrics(options: configuration.metrics, rules: configuration.pipeline.rules,
                                   info: AgentMetrics.info(probe.report, kernel: identity.kernel))
            counters = EventCounters()
        }
    }

    /// Runs until a signal, the duration, or the reader closing the output.
    public func run() throws(AgentError) -> AgentResult {
        let signals = try SignalDescriptor(signals: [SIGINT, SIGTERM])
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .system(call: "epoll_create1", errno: errno) }
        defer { close(epoll) }
        try watch(probe.pollDescriptor, in: epoll)
        try watch(signals.descriptor, in: epoll)
        // EPOLLERR/EPOLLHUP on our stdout pipe say the reader went away even
        // when there is nothing to write. Regular files cannot be polled
        // (EPERM), and need not be.
        let watchesOutput = watch(output: output.descriptor, in: epoll)
        if let metricsServer { try watch(metricsServer.pollDescriptor, in: epoll) }

        let start = WallClock.monotonicNow()
        let deadline = configuration.duration.map { start + UInt64($0 * 1_000_000_000) }
        var nextLossCheck = start
        let progressInterval = UInt64(configuration.progressIntervalSeconds * 1e9)
        var nextProgress = start + progressInterval
        var stop: AgentStop?
        do throws(AgentError) {
            writeStartLine(at: start)
            try flush()
            CodeResidency.releaseStartupMemory()
            var ready = [epoll_event](repeating: epoll_event(), count: 4)
            var wait = EpollWait()
            var pacing = RingPacing(lineDelay: configuration.lineDelayNanoseconds)
            var nextRingRead: UInt64?
            while stop == nil {
                let now = WallClock.monotonicNow()
                if let deadline, now >= deadline { stop = .durationElapsed; break }
                var due = now + UInt64(configuration.lossCheckIntervalMilliseconds) * 1_000_000
                if let deadline { due = min(due, deadline) }
                if pipeline.nextTick != 0 { due = min(due, pipeline.nextTick + tickGrace) }
                if let metricsDue = metricsServer?.nextDeadline { due = min(due, metricsDue) }
                if let nextRingRead { due = min(due, nextRingRead) }
                let count = wait(epoll, &ready, timeout: due > now ? due - now : 0)
                if count < 0 && errno != EINTR { throw .system(call: "epoll_wait", errno: errno) }
                let events = ready.prefix(Int(max(count, 0)))
                if watchesOutput, events.contains(where: {
                    $0.data.fd == output.descriptor && $0.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
                }) {
                    throw .output(.closed)
                }
                // Read only when epoll says so: one system call less per ring wakeup.
                if events.contains(where: { $0.data.fd == signals.descriptor }), let signal = signals.pending() {
                    stop = .signal(signal)
                }
                let readStart = WallClock.monotonicNow()
                let samples = try drainRing()
                let window = probe.readsUntil
                let paced = pacing.afterRead(samples: samples, startedAt: readStart, readsUntil: window)
                if paced.readsUntil != window { probe.readsUntil = paced.readsUntil }
                nextRingRead = paced.nextRead
                pipeline.tick(through: WallClock.monotonicNow() - tickGrace)
                if WallClock.monotonicNow() >= nextLossCheck || stop != nil {
                    try reportLoss()
                    nextLossCheck = WallClock.monotonicNow() + UInt64(configuration.lossCheckIntervalMilliseconds) * 1_000_000
                }
                try flush()
                passAlerts()
                if let metricsServer {
                    // After a write: every event read before it has its line out.
                    counters?.written(at: WallClock.monotonicNow())
                    let scraped = events.contains { $0.data.fd == metricsServer.pollDescriptor }
                    let now = WallClock.monotonicNow()
                    if scraped || metricsServer.nextDeadline.map({ $0 <= now }) == true {
                        metricsServer.service(now: now) { renderMetrics() }
                    }
                }
                if progressInterval > 0, let progress = configuration.progress, WallClock.monotonicNow() >= nextProgress {
                    nextProgress += progressInterval
                    progress(AgentProgress(
                        elapsedSeconds: Double(WallClock.monotonicNow() - start) / 1e9, recordsRead: recordsRead,
                        eventsWritten: pipeline.eventsWritten, lostRecords: lostReported))
                }
            }
            // Nothing read after the stop is left behind in the ring.
            _ = try drainRing()
            let end = WallClock.monotonicNow()
            pipeline.tick(through: end)
            try reportLoss()
            writeStopLine(at: end, stop: stop ?? .outputClosed)
            if !configuration.pipeline.writesEvents { writeSummaryLines() }
            try flush()
            passAlerts()
        } catch {
            guard case .output(.closed) = error else { throw error }
            stop = .outputClosed
        }
        return AgentResult(
            stop: stop ?? .outputClosed, graph: pipeline.graph, endTime: WallClock.monotonicNow(),
            totals: pipeline.totals, recordsRead: recordsRead,
            eventsWritten: pipeline.eventsWritten, lostRecords: lostReported,
            malformedRecords: probe.malformedRecords)
    }

    /// Reads what waits in the ring; returns how many samples there were.
    private func drainRing() throws(AgentError) -> Int {
        let samples: Int
        do {
            samples = try probe.consume({ [unowned self] record in self.handle(record) },
                              environment: { [unowned self] sample in self.handle(environment: sample) })
        } catch {
            throw .probe(error)
        }
        if let failure = outputFailure {
            outputFailure = nil
            throw failure
        }
        return samples
    }

    private func handle(_ record: UnsafePointer<ark_record>) {
        recordsRead += 1
        var event = ProbeEvent(kind: .retransmit, monotonicNanoseconds: 0)
        guard ProbeEvent.decode(record, into: &event) else {
            unknownKindRecords += 1
            return
        }
        let pid = event.owner.pid
        if pid != 0, pid != lastIdentifiedPid, event.owner.source != .currentTask {
            lastIdentifiedPid = pid
            // A process the kernel sent no environment for (found by the
            // start-up walk, or the copy failed): /proc tells what it can.
            if !pipeline.knowsIdentity(of: pid), event.kind != .processExit {
                let identity = WorkloadIdentity.resolve(pid: pid, readsEnvironment: readsEnvironmentFromProc)
                pipeline.identify(pid, as: identity, command: event.owner.command,
                                  cgroupID: event.owner.cgroupID, at: event.monotonicNanoseconds)
            }
        }
        if pipeline.process(event) { counters?.count(event) }
        if event.kind == .processExit, pid == lastIdentifiedPid { lastIdentifiedPid = 0 }
        // A full ring's lines are megabytes: written as they come, the output
        // buffer stays at its initial 64 KiB (resident memory budget).
        if pipeline.output.count >= outputBatchBytes, outputFailure == nil {
            do { try flush() } catch { outputFailure = error }
        }
    }

    /// Who a socket owner is, as the kernel read it at its first claim: its
    /// cgroup path and its launcher's view.
    private func handle(environment sample: UnsafeRawBufferPointer) {
        recordsRead += 1
        guard let environment = ProcessEnvironment(sample: sample) else {
            unknownKindRecords += 1
            return
        }
        let identity = environment.environmentCopied && environment.error == 0
            ? WorkloadIdentity.resolve(pid: environment.pid, cgroupPath: environment.cgroupPath,
                                       head: environment.head, tail: environment.tail)
            : WorkloadIdentity.resolve(pid: environment.pid, cgroupPath: environment.cgroupPath,
                                       readsEnvironment: readsEnvironmentFromProc)
        pipeline.identify(environment.pid, as: identity, command: environment.command,
                          cgroupID: environment.cgroupID, at: environment.monotonicNanoseconds)
        if environment.pid == lastIdentifiedPid { lastIdentifiedPid = 0 }
    }

    private func passAlerts() {
        guard !pipeline.keptAlerts.isEmpty else { return }
        metrics?.count(pipeline.keptAlerts)
        configuration.alertObserver?(pipeline.keptAlerts)
        pipeline.forgetKeptAlerts()
    }

    private func renderMetrics() -> [UInt8] {
        guard metrics != nil, let metricsServer, let counters else { return [] }
        let health = AgentHealth(
            recordsRead: recordsRead, recordsLost: (try? probe.lostRecords()) ?? lostReported,
            wrongSizeRecords: probe.malformedRecords, unknownKindRecords: unknownKindRecords,
            eventsWritten: pipeline.eventsWritten, alertsWritten: pipeline.alertsWritten,
            ruleEvaluation: pipeline.ruleEvaluationTime,
            residentBytes: metrics!.residentMemoryBytes(),
            graphEvictedProcesses: pipeline.graph.evictedProcesses,
            graphEvictedConnections: pipeline.graph.evictedConnections,
            scrapes: metricsServer.scrapes, refusedConnections: metricsServer.refusedConnections,
            timedOutConnections: metricsServer.timedOutConnections,
            countedOnlyDrops: (try? probe.countedOnlyDrops()) ?? [:],
            countedOnlyCongestionChanges: (try? probe.countedOnlyCongestionChanges()) ?? 0)
        var text = MetricsText()
        // In place: a copy would copy the series selections on every scrape.
        metrics!.render(counters: counters, totals: pipeline.totals, graph: pipeline.graph,
                        dropReasonNames: probe.dropReasonNames, health: health, into: &text)
        configuration.extraMetrics?(&text)
        return text.bytes
    }

    private func flush() throws(AgentError) {
        guard !pipeline.output.isEmpty else { return }
        defer { pipeline.output.removeAll() }
        do {
            try pipeline.output.withBytes { bytes throws(LineOutput.Failure) in try output.write(bytes) }
        } catch {
            throw .output(error)
        }
    }

    private func reportLoss() throws(AgentError) {
        let lost: UInt64
        do { lost = try probe.lostRecords() } catch { throw .probe(error) }
        guard lost > lostReported else { return }
        pipeline.output.beginObject()
        pipeline.output.field("ts", pipeline.clock.milliseconds(monotonicNanoseconds: WallClock.monotonicNow()))
        pipeline.output.field("event_type", plain: EventType.loss)
        identity.encode(into: &pipeline.output)
        pipeline.output.field("value", decimalString: lost - lostReported)
        pipeline.output.field("lost_total", lost)
        pipeline.output.endLine()
        lostReported = lost
    }

    private func writeStartLine(at monotonic: UInt64) {
        let report = probe.report
        var line = JSONLineWriter(capacity: 1024)
        line.beginObject()
        line.field("ts", pipeline.clock.milliseconds(monotonicNanoseconds: monotonic))
        line.field("event_type", plain: "probe.started")
        identity.encode(into: &line)
        line.field("value", report.retransmitMode.rawValue)
        line.field("host", identity.host)
        line.field("kernel", identity.kernel)
        line.field("attribution", report.attributesBySocketOwner ? "socket-owner" : "current-task")
        line.field("reports_failed_retransmits", report.reportsFailedRetransmits)
        line.field("hooks", report.attachedHooks.joined(separator: "; "))
        line.key("features")
        line.beginNestedObject()
        for status in report.features {
            line.key(status.feature.rawValue)
            line.beginNestedObject()
            line.field("state", status.state.rawValue)
            if let hook = status.hook { line.field("hook", hook) }
            if let reason = status.reason { line.field("reason", reason) }
            line.endNestedObject()
        }
        line.endNestedObject()
        line.field("clock_offset_ns", pipeline.clock.offsetNanoseconds)
        line.endLine()
        pipeline.output.append(line)
    }

    /// The last line: when the run ended, in kernel time, so a replay can
    /// run its clock as far as the live run did.
    private func writeStopLine(at monotonic: UInt64, stop: AgentStop) {
        var line = JSONLineWriter(capacity: 256)
        line.beginObject()
        line.field("ts", pipeline.clock.milliseconds(monotonicNanoseconds: monotonic))
        line.field("event_type", plain: "probe.stopped")
        identity.encode(into: &line)
        switch stop {
        case .signal(let number): line.field("value", "signal \(number)")
        case .durationElapsed: line.field("value", plain: "duration elapsed")
        case .outputClosed: line.field("value", plain: "output closed")
        }
        // What the kernel counted without sending lines, over the run.
        if let drops = try? probe.countedOnlyDrops() {
            line.field("counted_only_drops", drops.values.reduce(0, +))
        }
        if let changes = try? probe.countedOnlyCongestionChanges() { line.field("counted_only_congestion_changes", changes) }
        line.field("ktime_ns", monotonic)
        line.endLine()
        pipeline.output.append(line)
    }

    /// One `probe.summary` line per process, for runs without event lines.
    private func writeSummaryLines() {
        let now = pipeline.clock.milliseconds(monotonicNanoseconds: WallClock.monotonicNow())
        var line = JSONLineWriter(capacity: 1024)
        for entry in pipeline.totals.sorted {
            line.beginObject()
            line.field("ts", now)
            line.field("event_type", plain: "probe.summary")
            line.field("entity_id", prefix: "network-pid-", number: UInt64(entry.pid))
            line.field("pid", UInt64(entry.pid))
            line.field("value", decimalString: entry.retransmittedSegments)
            line.field("comm", entry.command)
            line.field("retransmit_events", entry.retransmitEvents)
            line.field("rto_events", entry.rtoEvents)
            line.field("failed_segments", entry.failedSegments)
            line.field("kernel_drops", entry.kernelDrops)
            line.endLine()
        }
        pipeline.output.append(line)
    }

    private func watch(output descriptor: Int32, in epoll: Int32) -> Bool {
        var event = epoll_event()
        event.events = 0
        event.data.fd = descriptor
        return epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0
    }

    private func watch(_ descriptor: Int32, in epoll: Int32) throws(AgentError) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = descriptor
        if epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) != 0 {
            throw .system(call: "epoll_ctl", errno: errno)
        }
    }
}

/// Who is writing: the agent's own entity in lines about the probe itself.
struct AgentIdentity {
    let pid: UInt32
    let host: String
    let kernel: String

    static func current() -> AgentIdentity {
        var name = utsname()
        uname(&name)
        let host = withUnsafeBytes(of: name.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return AgentIdentity(pid: UInt32(getpid()), host: host, kernel: kernel)
    }

    func encode(into line: inout JSONLineWriter) {
        line.key("entity_id")
        line.appendString("probe-" + host)
        line.field("pid", UInt64(pid))
    }
}
