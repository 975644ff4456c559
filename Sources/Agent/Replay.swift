import ProbeEvents
import RuleEngine
import StateGraph
import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// Runs recorded traces through the same `Pipeline` as a live run, by event
/// time, as fast as the machine allows: same input, same output, byte for
/// byte. Wall-clock `ts` values come from the trace's own clock offset (its
/// `probe.started` line), so they match the live run's.
public final class Replay {
    public struct Options: Sendable {
        public var pipeline = Pipeline.Options()
        /// Skip bad lines (counted) instead of stopping at the first.
        public var skipsBadLines = false
        /// Keep ticking this long past the last event (nanoseconds), so that
        /// alerts pending or firing at the end of the trace can resolve.
        public var drainNanoseconds: UInt64 = 0
        /// Events may be this much earlier than the latest before them (the
        /// ring buffer merges CPUs); earlier still is an error.
        public var reorderToleranceNanoseconds: UInt64 = 1_000_000_000
        /// Keep every alert in `alerts` (for rule tests).
        public var keepsAlerts = false
        /// Called every `progressEntries` lines, on the replaying thread.
        public var progress: (@Sendable (ReplayProgress) -> Void)?
        public var progressEntries = 16_384

        public init() {}
    }

    public struct Summary: Sendable {
        public var events = 0
        public var passedThrough = 0
        public var skippedLines = 0
        public var reorderedEvents = 0
        /// The first errors of skipped lines.
        public var errors: [TraceError] = []
    }

    /// Line types the pipeline writes itself: in a trace they are the live
    /// run's results, replaced by the replay's own.
    static let derivedEventTypes: Set<String> = [
        "graph.edge_added", "graph.edge_updated", "graph.edge_removed", "alert", "probe.summary",
    ]

    public let options: Options
    public private(set) var summary = Summary()
    public private(set) var alerts: [Alert] = []
    /// The host of the recorded run (its first probe.started line), and the
    /// clock that turns event times into wall-clock time.
    public private(set) var recordedHost = ""
    public var clock: WallClock? { pipeline?.clock }
    /// The graph after the replay, and the event time it ended at.
    public var graph: StateGraph? { pipeline?.graph }
    public var endTime: UInt64 { lastEventTime + options.drainNanoseconds }
    private var pipeline: Pipeline?
    private let dropReasonNames: [UInt32: String]
    private var lastEventTime: UInt64 = 0

    /// `dropReasonNames`: names for `reason_code`s (the trace's lines carry
    /// codes; names come from this machine's BTF when it has one).
    public init(options: Options, dropReasonNames: [UInt32: String] = [:]) {
        self.options = options
        self.dropReasonNames = dropReasonNames
    }

    /// Replays `paths` in order as one stream, handing output to `write`
    /// after every batch of lines.
    public func run(_ paths: [String], write: (inout JSONLineWriter) throws(LineOutput.Failure) -> Void) throws(ReplayError) {
        let totalBytes = options.progress == nil ? 0 : paths.reduce(UInt64(0)) { $0 + Self.size(of: $1) }
        var bytesBefore: UInt64 = 0
        var entries = 0
        for path in paths {
            let reader: TraceReader
            do {
                reader = try TraceReader(path: path, mode: options.skipsBadLines ? .skipBadLines : .stopOnError,
                                         reorderToleranceNanoseconds: options.reorderToleranceNanoseconds)
            } catch {
                throw .trace(error)
            }
            // Event lines are decoded into this one buffer, read in place.
            var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
            while true {
                let item: TraceReader.Item?
                do { item = try reader.next(decodingEventInto: &event) } catch { throw .trace(error) }
                guard let item else { break }

                switch item {
                case .event: handle(event, names: reader)
                case .entry(let entry): handle(entry, names: reader)
                }
                entries += 1
                if let progress = options.progress, entries % max(1, options.progressEntries) == 0 {
                    progress(ReplayProgress(events: summary.events, bytesRead: bytesBefore + reader.bytesRead,
                                            totalBytes: totalBytes))
                }
                if let pipeline, pipeline.output.count >= 64 * 1024 {
                    do { try write(&pipeline.output) } catch { throw .output(error) }
                    pipeline.output.removeAll()
                }
            }
            bytesBefore += reader.bytesRead
            summary.skippedLines += reader.skippedLines
            summary.reorderedEvents += reader.reorderedEvents
            summary.errors += reader.errors.prefix(100 - min(100, summary.errors.count))
        }
        let pipeline = pipeline(clock: WallClock(offsetNanoseconds: 0))
        if lastEventTime > 0 { pipeline.tick(through: lastEventTime + options.drainNanoseconds) }
        collectAlerts()
        do { try write(&pipeline.output) } catch { throw .output(error) }
        pipeline.output.removeAll()
    }

    /// `names`: the drop reason names the trace's lines carry.
    private func handle(_ event: ProbeEvent, names reader: TraceReader) {
        summary.events += 1
        lastEventTime = max(lastEventTime, event.monotonicNanoseconds)
        let pipeline = pipeline(clock: WallClock(offsetNanoseconds: 0))
        if event.kind == .drop, let name = reader.dropReasonNames[event.dropReason] {
            pipeline.learnDropReason(event.dropReason, name: name)
        }
        pipeline.process(event)
        collectAlerts()
    }

    private func handle(_ entry: TraceEntry, names reader: TraceReader) {
        switch entry {
        case .started(let start, _):
            if recordedHost.isEmpty { recordedHost = start.host }
            _ = pipeline(clock: start.clock)
        case .event(let event, _):
            handle(event, names: reader)
        case .identity(let process, _):
            pipeline(clock: WallClock(offsetNanoseconds: 0))
                .identify(process.pid, as: process.identity, command: process.command, cgroupID: process.cgroupID,
                          at: process.time)
        case .passthrough(let eventType, let bytes, _):
            guard !Self.derivedEventTypes.contains(eventType) else { return }
            summary.passedThrough += 1
            let pipeline = pipeline(clock: WallClock(offsetNanoseconds: 0))
            // The live run's clock ran on to its stop: so does the replay's.
            if eventType == "probe.stopped",
               let end = (try? JSONValue(parsing: bytes))?["ktime_ns"]?.number?.uint64 {
                pipeline.tick(through: end)
                lastEventTime = max(lastEventTime, end)
            }
            pipeline.output.appendRawLine(bytes)
        }
    }

    private static func size(of path: String) -> UInt64 {
        var status = stat()
        return stat(path, &status) == 0 ? UInt64(max(0, status.st_size)) : 0
    }

    /// The pipeline, made on first use with the trace's clock (or the
    /// given one when the trace has no probe.started line).
    private func pipeline(clock: WallClock) -> Pipeline {
        if let pipeline { return pipeline }
        var pipelineOptions = options.pipeline
        pipelineOptions.keepsAlerts = options.keepsAlerts
        let made = Pipeline(options: pipelineOptions, clock: clock, dropReasonNames: dropReasonNames)
        pipeline = made
        return made
    }

    private func collectAlerts() {
        guard options.keepsAlerts, let pipeline, !pipeline.keptAlerts.isEmpty else { return }
        alerts += pipeline.keptAlerts
        pipeline.forgetKeptAlerts()
    }
}

public enum ReplayError: Error, CustomStringConvertible {
    case trace(TraceError)
    case output(LineOutput.Failure)

    public var description: String {
        switch self {
        case .trace(let error): error.description
        case .output(let error): error.description
        }
    }
}

/// How far a replay has come: events so far, and bytes read of all its traces.
public struct ReplayProgress: Sendable, Equatable {
    public let events: Int
    public let bytesRead: UInt64
    public let totalBytes: UInt64

    public init(events: Int, bytesRead: UInt64, totalBytes: UInt64) {
        self.events = events
        self.bytesRead = bytesRead
        self.totalBytes = totalBytes
    }

    /// One line for a terminal, after `seconds` of replay: "1,234,567
    /// events, 512,300 events/s, 34 % of 1.2 GB, about 12 s left".
    public func text(afterSeconds seconds: Double) -> String {
        let rate = seconds > 0 ? Double(events) / seconds : 0
        var text = "\(Self.grouped(events)) events, \(Self.grouped(Int(rate))) events/s"
        guard totalBytes > 0 else { return text }
        let share = min(1, Double(bytesRead) / Double(totalBytes))
        text += ", \(Int(share * 100)) % of \(Self.size(totalBytes))"
        if share > 0, seconds > 0 {
            let left = seconds / share - seconds
            text += ", about " + (left < 90 ? "\(Int(left.rounded())) s" : "\(Int((left / 60).rounded())) min") + " left"
        }
        return text
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return text
    }

    static func size(_ bytes: UInt64) -> String {
        let units = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")] as [(UInt64, String)]
        for (scale, unit) in units where bytes >= scale {
            let value = Double(bytes) / Double(scale)
            return (value < 10 ? "\((value * 10).rounded() / 10)" : "\(Int(value.rounded()))") + " " + unit
        }
        return "\(bytes) B"
    }
}
