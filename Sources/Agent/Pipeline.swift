import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph

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
        public var tickNanoseconds: UInt64 = 250_000_000

        public init() {}
    }

    public let options: Options
    public private(set) var graph: StateGraph
    public private(set) var totals = ProcessTotals()
    public private(set) var eventsWritten: UInt64 = 0
    /// The JSONL produced so far; the caller writes and clears it.
    public var output = JSONLineWriter()

    private var eventEncoder: EventLineEncoder
    private let graphEncoder: GraphLineEncoder
    private let alertEncoder: AlertLineEncoder
    private let engine: RuleEngine?
    private var changes: [GraphChange] = []
    private var alerts: [Alert] = []
    public private(set) var alertsWritten: UInt64 = 0
    /// With `keepsAlerts`: the alerts since `forgetKeptAlerts()`.
    public private(set) var keptAlerts: [Alert] = []
    /// The next tick boundary; 0 until the first event sets the phase.
    public private(set) var nextTick: UInt64 = 0

    public init(options: Options, clock: WallClock, dropReasonNames: [UInt32: String]) {
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

    public var clock: WallClock { eventEncoder.clock }

    public func process(_ event: ProbeEvent) {
        guard options.filter.accepts(event) else { return }
        let time = event.monotonicNanoseconds
        if nextTick == 0 { nextTick = (time / options.tickNanoseconds + 1) * options.tickNanoseconds }
        tick(through: time)
        totals.add(event)
        if options.writesEvents {
            eventEncoder.encode(event, into: &output)
            eventsWritten += 1
        }
        graph.apply(event, changes: &changes)
        flushChanges()
        engine?.observe(event, alerts: &alerts)
        flushAlerts()
    }

    /// Runs every tick whose boundary is at or before `time`.
    public func tick(through time: UInt64) {
        guard nextTick != 0 else { return }
        while nextTick <= time {
            graph.advance(to: nextTick, changes: &changes)
            flushChanges()
            engine?.evaluate(graph: graph, at: nextTick, alerts: &alerts)
            flushAlerts()
            nextTick += options.tickNanoseconds
        }
    }

    /// Names a drop reason code the encoder did not know (replays).
    public func learnDropReason(_ code: UInt32, name: String) {
        if eventEncoder.dropReasonNames[code] == nil { eventEncoder.dropReasonNames[code] = name }
        engine?.learnDropReason(code, name: name)
    }

    public func forgetKeptAlerts() {
        keptAlerts.removeAll(keepingCapacity: true)
    }

    private func flushAlerts() {
        guard !alerts.isEmpty else { return }
        for alert in alerts { alertEncoder.encode(alert, into: &output) }
        alertsWritten += UInt64(alerts.count)
        if options.keepsAlerts { keptAlerts += alerts }
        alerts.removeAll(keepingCapacity: true)
    }

    private func flushChanges() {
        guard !changes.isEmpty else { return }
        if options.writesGraph {
            for change in changes { graphEncoder.encode(change, into: &output) }
        }
        changes.removeAll(keepingCapacity: true)
    }
}
