import Metrics
import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph
import WorkloadIdentity

/// Events in, JSONL out: filter → totals → event line → graph → graph
/// lines → rules → alert lines.
/// Deterministic: it knows only event time. Time also advances in ticks at
/// fixed boundaries of event time (every `tickNanoseconds`), run before the
/// first event past each boundary, or by the caller when no event comes;
/// a live run and a replay of its trace therefore see the same ticks.
public final class Pipeline {
    public struct Options: Sendable {
        public var filter = EventFilter()
        /// Write one line per event (false: only derived lines).
        public var writesEvents = true
        /// Write graph changes.
        public var writesGraph = true
        public var graph = GraphConfiguration()
        /// The rules to evaluate; nil: none.
        public var rules: RuleSet?
        /// Keep every alert in `keptAlerts` too (for rule tests).
        public var keepsAlerts = false
        /// 100 ms: a stall rule on the last second's blocked time
        /// (blocked_1s >= 600ms) fires at most one tick after it holds,
        /// within a second of the onset.
        public var tickNanoseconds: UInt64 = 100_000_000

        public init() {}
    }

    public let options: Options
    /// Everything that changes per event, in one struct: the class's
    /// methods then make one exclusive access per call instead of one per
    /// field touched. Unchecked: the class is used from one thread, and a
    /// dynamic exclusivity check on every event cost more than the rules.
    @exclusivity(unchecked) private var state: State

    public init(options: Options, clock: WallClock, dropReasonNames: [UInt32: String]) {
        self.options = options
        state = State(options: options, clock: clock, dropReasonNames: dropReasonNames)
    }

    public var clock: WallClock { state.eventEncoder.clock }
    public var graph: StateGraph { state.graph }
    public var totals: ProcessTotals { state.totals }
    public var eventsWritten: UInt64 { state.eventsWritten }
    public var alertsWritten: UInt64 { state.alertsWritten }
    /// With `keepsAlerts`: the alerts since `forgetKeptAlerts()`.
    public var keptAlerts: [Alert] { state.keptAlerts }
    /// The next tick boundary; 0 until the first event sets the phase.
    public var nextTick: UInt64 { state.nextTick }
    /// How long each tick's rule evaluation took (CLOCK_MONOTONIC), for metrics.
    public var ruleEvaluationTime: LatencyHistogram { state.ruleEvaluationTime }

    /// The JSONL produced so far; the caller writes and clears it.
    public var output: JSONLineWriter {
        get { state.output }
        _modify { yield &state.output }
    }

    /// 10 µs … 500 ms.
    public static let ruleEvaluationBounds: [UInt64] = [10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000, 500_000]
        .map { $0 * 1000 }

    /// Returns false when the filter turned the event away.
    @discardableResult
    public func process(_ event: ProbeEvent) -> Bool {
        state.process(event)
    }

    /// Tells the pipeline who process `pid` (in cgroup `cgroupID`) is, as
    /// of event time `time`: its lines carry the identity from now on, and
    /// a `process.identity` line says so when it is news, so that a replay
    /// knows every process of a job, also those without other lines. No
    /// tick runs: a replay makes the same calls in the same order.
    public func identify(_ pid: UInt32, as identity: WorkloadIdentity, command: Command, cgroupID: UInt64,
                         at time: UInt64) {
        state.identify(pid, as: identity, command: command, cgroupID: cgroupID, at: time)
    }

    /// Whether `pid`'s identity was told (even as nothing known).
    public func knowsIdentity(of pid: UInt32) -> Bool {
        state.graph.identities[pid] != nil
    }

    /// Runs every tick whose boundary is at or before `time`.
    public func tick(through time: UInt64) {
        state.tick(through: time)
    }

    /// Names a drop reason code the encoder did not know (replays).
    public func learnDropReason(_ code: UInt32, name: String) {
        if state.eventEncoder.dropReasonNames[code] == nil { state.eventEncoder.dropReasonNames[code] = name }
        state.engine?.learnDropReason(code, name: name)
    }

    public func forgetKeptAlerts() {
        state.keptAlerts.removeAll(keepingCapacity: true)
    }

    private struct State {
        let options: Options
        var graph: StateGraph
        var totals = ProcessTotals()
        var eventsWritten: UInt64 = 0
        var output = JSONLineWriter()
        var eventEncoder: EventLineEncoder
        let graphEncoder: GraphLineEncoder
        let alertEncoder: AlertLineEncoder
        let engine: RuleEngine?
        var changes: [GraphChange] = []
        var alerts: [Alert] = []
        var alertsWritten: UInt64 = 0
        var keptAlerts: [Alert] = []
        var nextTick: UInt64 = 0
        /// The identity last looked up, while the cache has not changed:
        /// events come in runs of one process, and a lookup hashes the pid.
        private var lastIdentity: (pid: UInt32, version: UInt64, entry: IdentityCache.Entry?) = (0, 0, nil)
        var ruleEvaluationTime = LatencyHistogram(upperBoundsNanoseconds: Pipeline.ruleEvaluationBounds)

        init(options: Options, clock: WallClock, dropReasonNames: [UInt32: String]) {
            self.options = options
            graph = StateGraph(configuration: options.graph)
            eventEncoder = EventLineEncoder(clock: clock, dropReasonNames: dropReasonNames)
            graphEncoder = GraphLineEncoder(clock: clock)
            alertEncoder = AlertLineEncoder(clock: clock)
            engine = options.rules.map {
                RuleEngine(rules: $0, dropReasonNames: dropReasonNames, windowSeconds: options.graph.windowSeconds)
            }
            changes.reserveCapacity(16)
        }

        mutating func process(_ event: ProbeEvent) -> Bool {
            guard options.filter.accepts(event) else { return false }
            let time = event.monotonicNanoseconds
            if nextTick == 0 { nextTick = (time / options.tickNanoseconds + 1) * options.tickNanoseconds }
            tick(through: time)
            totals.add(event)
            let identity = identity(of: event.owner.pid)
            if options.writesEvents {
                eventEncoder.encode(event, identity: identity?.fields ?? [], into: &output)
                eventsWritten += 1
            }
            graph.apply(event, changes: &changes)
            flushChanges()
            engine?.observe(event, identity: identity, alerts: &alerts)
            flushAlerts()
            // Its lines (exit, edges removed, alerts) carried it; a new
            // process may take the pid.
            if event.kind == .processExit { graph.forgetIdentity(event.owner.pid) }
            return true
        }

        private mutating func identity(of pid: UInt32) -> IdentityCache.Entry? {
            guard pid != 0 else { return nil }
            let version = graph.identities.version
            if pid == lastIdentity.pid, version == lastIdentity.version { return lastIdentity.entry }
            let entry = graph.identities[pid]
            lastIdentity = (pid, version, entry)
            return entry
        }

        mutating func identify(_ pid: UInt32, as identity: WorkloadIdentity, command: Command, cgroupID: UInt64,
                               at time: UInt64) {
            guard pid != 0, options.filter.acceptsProcess(pid, cgroupID: cgroupID),
                  graph.identify(pid, as: identity, command: command) else { return }
            let fields = identity.encodedIdentityFields
            guard options.writesEvents, !fields.isEmpty else { return }
            output.beginObject()
            output.field("ts", eventEncoder.clock.milliseconds(monotonicNanoseconds: time))
            output.field("event_type", plain: EventType.processIdentity)
            output.field("entity_id", prefix: "process-pid-", number: UInt64(pid))
            output.field("pid", UInt64(pid))
            output.field("value", identity.job?.description ?? "")
            output.field("comm", command)
            output.field("cgroup_id", cgroupID)
            output.appendFields(fields)
            output.field("ktime_ns", time)
            output.endLine()
        }

        mutating func tick(through time: UInt64) {
            guard nextTick != 0 else { return }
            while nextTick <= time {
                graph.advance(to: nextTick, changes: &changes)
                flushChanges()
                if let engine {
                    let start = WallClock.monotonicNow()
                    engine.evaluate(graph: graph, at: nextTick, alerts: &alerts)
                    ruleEvaluationTime.observe(nanoseconds: WallClock.monotonicNow() &- start)
                }
                flushAlerts()
                nextTick += options.tickNanoseconds
            }
        }

        private mutating func flushAlerts() {
            guard !alerts.isEmpty else { return }
            for alert in alerts { alertEncoder.encode(alert, identity: identityFields(of: alert), into: &output) }
            alertsWritten += UInt64(alerts.count)
            if options.keepsAlerts {
                for var alert in alerts {
                    alert.identity = graph.identities[alert.pid]?.identity
                    keptAlerts.append(alert)
                }
            }
            alerts.removeAll(keepingCapacity: true)
        }

        /// A process's identity, or a job alert's job.
        private func identityFields(of alert: Alert) -> [UInt8] {
            if case .job(let key) = alert.entity { return WorkloadIdentity.encodedJobField(key) }
            return graph.identityFields(of: alert.pid)
        }

        private mutating func flushChanges() {
            guard !changes.isEmpty else { return }
            if options.writesGraph {
                for change in changes { graphEncoder.encode(change, identity: graph.identityFields(of: change.pid), into: &output) }
            }
            changes.removeAll(keepingCapacity: true)
        }
    }
}
