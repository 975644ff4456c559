import Agent
import Alertmanager
import KernelProbe
import ProbeEvents
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe replay`: run recorded traces through the graph and rules.
struct ReplayCommand: Subcommand {
    static let name = "replay"
    static let abstract = "Run recorded traces through the graph and rules, by event time; needs no root."
    static let usage = """
        USAGE: ark-probe replay TRACE... [options]

        Reads JSONL traces (from "ark-probe record" or "ark-probe run") in
        order, as one stream, and runs their events through the same state
        graph and rules as "ark-probe run", by event time and as fast as the
        machine allows. Writes the resulting JSONL: the raw events, graph
        changes and alerts; lines of other types are passed through
        untouched, while graph and alert lines in the trace are replaced by
        the replay's own. Same input, same output, byte for byte.

        A bad line (not JSON, wrong types, truncated, invalid UTF-8, too long,
        time going backwards by more than a second) stops the replay with its
        file and line number, unless --skip-bad is given.

        OPTIONS:
          --output FILE        Append JSONL to FILE instead of stdout.
          --no-events          Do not write the raw events, only what the
                               graph and rules derive.
          --no-graph           Do not write graph lines.
          --skip-bad           Skip bad lines, count them, and report the
                               first ones on stderr.
          --drain SECONDS      Keep time running this long after the last
                               event, so alerts can resolve (default 0).
        \(RuleOptions.help)
        \(AlertmanagerCLIOptions.help)
                               A replay pushes its alerts once it has run
                               through the traces, as the recorded host,
                               and waits up to 10 s for their delivery
                               (exit status 1 if some were not delivered).
                               Alerts resolved within the traces arrive
                               resolved; replay without --drain to see those
                               still firing at the end fire.
          -h, --help           Show this help.
        """

    var traces: [String] = []
    var outputPath: String?
    var writesEvents = true
    var writesGraph = true
    var skipsBadLines = false
    var drainSeconds = 0.0
    var rules = RuleOptions()
    var alertmanager = AlertmanagerCLIOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption(collecting: &traces) {
            if try rules.parse(name, inline, &arguments) { continue }
            if try alertmanager.parse(name, inline, &arguments) { continue }
            switch name {
            case "--output": outputPath = try arguments.value(for: name, inline: inline)
            case "--no-events": writesEvents = false
            case "--no-graph": writesGraph = false
            case "--skip-bad": skipsBadLines = true
            case "--drain": drainSeconds = try parseSeconds(arguments.value(for: name, inline: inline), option: name)
            default: throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        if traces.isEmpty {
            throw UsageError("replay needs at least one trace file; see 'ark-probe replay --help'")
        }
        try rules.validate()
        try alertmanager.validate(rules: rules)
    }

    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var options = Replay.Options()
        options.pipeline.writesEvents = writesEvents
        options.pipeline.writesGraph = writesGraph
        options.skipsBadLines = skipsBadLines
        options.drainNanoseconds = UInt64(drainSeconds * 1e9)
        options.keepsAlerts = !alertmanager.urls.isEmpty
        let output: LineOutput
        do {
            if rules.enabled { options.pipeline.rules = try loadRuleSet(rules.paths) }
            output = try openOutput(outputPath)
        } catch {
            printError("ark-probe replay: \(error)")
            return 1
        }
        let progress = TerminalProgress.onTerminal(label: "ark-probe replay")
        options.progress = progress?.callback
        let replay = Replay(options: options, dropReasonNames: KernelDropReasons.names())
        defer { progress?.finish() }
        do {
            try replay.run(traces) { (line: inout JSONLineWriter) throws(LineOutput.Failure) in
                try line.withBytes { bytes throws(LineOutput.Failure) in try output.write(bytes) }
            }
            progress?.finish()
        } catch {
            if case .output(.closed) = error { return 0 }
            printError("ark-probe replay: \(error)")
            return 1
        }
        let summary = replay.summary
        for error in summary.errors { printError("ark-probe replay: skipped \(error)") }
        var ending = "ark-probe replay: \(summary.events) events"
        if summary.skippedLines > 0 { ending += ", \(summary.skippedLines) bad lines skipped" }
        if summary.reorderedEvents > 0 { ending += ", \(summary.reorderedEvents) events slightly out of order (read)" }
        printError(ending)
        return pushAlerts(of: replay)
    }

    /// Pushes the replay's alerts to Alertmanager, if asked; the exit status.
    private func pushAlerts(of replay: Replay) -> Int32 {
        let notifier: AlertmanagerNotifier?
        do {
            notifier = try alertmanager.start(host: replay.recordedHost.isEmpty ? hostName() : replay.recordedHost,
                                              clock: replay.clock ?? WallClock(offsetNanoseconds: 0),
                                              queueCapacity: replay.alerts.count)
        } catch {
            printError("ark-probe replay: \(error)")
            return 1
        }
        guard let notifier else { return 0 }
        notifier.send(replay.alerts)
        return finishAlertmanager(notifier, withinSeconds: 10) ? 0 : 1
    }
}
