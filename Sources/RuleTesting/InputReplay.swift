import Agent
import ProbeEvents
import RuleEngine
import RuleLanguage
import TraceFormat

/// Runs a test's input through the same Pipeline as `run` and `replay`,
/// and returns the alerts it gives. A trace goes through Replay itself;
/// inline events go straight into a Pipeline with the same options, the
/// way Replay feeds it the events it reads. Machine-specific knowledge
/// (this kernel's drop reason names) is left out, so that a test gives
/// the same result on every machine.
enum InputReplay {
    /// Inline events start here (a whole number of 100 ms ticks), so that
    /// rules are evaluated 0.1 s, 0.2 s, ... after the test start.
    static let inlineStart: UInt64 = 1_000_000_000_000

    static func alerts(of test: RuleTest, in file: LoadedTestFile,
                       progress: (@Sendable (ReplayProgress) -> Void)? = nil) throws(ReplayError) -> [ObservedAlert] {
        switch test.input {
        case .trace(let trace): try alerts(ofTrace: trace.path, rules: file.rules, until: test.until, progress: progress)
        case .events(let events):
            alerts(of: events, rules: file.rules, until: test.until, dropReasonNames: file.file.dropReasonNames)
        }
    }

    private static func pipelineOptions(_ rules: RuleSet) -> Pipeline.Options {
        var options = Pipeline.Options()
        options.rules = rules
        options.keepsAlerts = true
        options.writesEvents = false
        options.writesGraph = false
        return options
    }

    private static func alerts(ofTrace path: String, rules: RuleSet, until: UInt64?,
                               progress: (@Sendable (ReplayProgress) -> Void)?) throws(ReplayError) -> [ObservedAlert] {
        let span: TraceSpan
        do { span = try TraceSpan(path: path) } catch { throw .trace(error) }
        // Without events there are no ticks, so no alerts.
        guard let start = span.firstEvent else { return [] }
        var options = Replay.Options()
        options.pipeline = pipelineOptions(rules)
        options.keepsAlerts = true
        options.progress = progress
        if let until, start + until > span.end { options.drainNanoseconds = start + until - span.end }
        let replay = Replay(options: options)
        try replay.run([path]) { (_: inout JSONLineWriter) throws(LineOutput.Failure) in }
        return timed(replay.alerts, from: start)
    }

    private static func alerts(of events: [ProbeEvent], rules: RuleSet, until: UInt64?,
                               dropReasonNames: [UInt32: String]) -> [ObservedAlert] {
        let pipeline = Pipeline(options: pipelineOptions(rules), clock: WallClock(offsetNanoseconds: 0),
                                dropReasonNames: dropReasonNames)
        for var event in events {
            event.monotonicNanoseconds += inlineStart
            pipeline.process(event)
            pipeline.output.removeAll()
        }
        let last = events.last?.monotonicNanoseconds ?? 0
        pipeline.tick(through: inlineStart + max(last, until ?? 0))
        return timed(pipeline.keptAlerts, from: inlineStart)
    }

    /// In time order (reordered events can give alerts slightly out of order).
    private static func timed(_ alerts: [Alert], from start: UInt64) -> [ObservedAlert] {
        alerts.enumerated()
            .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map { ObservedAlert(time: Int64(bitPattern: $0.element.time &- start), alert: $0.element) }
    }
}
