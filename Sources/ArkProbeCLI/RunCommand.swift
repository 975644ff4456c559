import Agent
import Alertmanager
import KernelProbe
import Metrics
import ProbeEvents
import RuleEngine
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe run`: load the probe, keep the graph, evaluate the rules and
/// stream JSONL until stopped.
struct RunCommand: Subcommand {
    static let name = "run"
    static let abstract = "Load the probe; write events, graph changes and alerts as JSONL."
    static let usage = """
        USAGE: ark-probe run [options]

        Loads the eBPF probe into the running kernel and writes one JSON object
        per line: TCP retransmissions ("transport.drop", value = segments),
        failed retransmissions, congestion-state changes, kernel drops of TCP
        packets and exits of socket owners, each attributed to the process
        that owns the socket; changes of the state graph ("graph.edge_*": who
        waits on the network); and alerts from the rules ("alert", firing and
        resolved). Diagnostics go to stderr. Stops on SIGINT or SIGTERM after
        writing every event already read. Needs root, or CAP_BPF and
        CAP_PERFMON.

        OPTIONS:
          --output FILE        Append JSONL to FILE instead of stdout.
          --duration SECONDS   Stop after SECONDS (may be fractional).
          --quiet              No event lines; at exit, one "probe.summary"
                               line per process and a table on stderr.
                               Graph and alert lines are still written.
          --no-graph           Do not write graph lines (the graph is still
                               kept for the rules).
          --metrics ADDR       Serve Prometheus metrics at http://ADDR/metrics;
                               ADDR is host:port, [ipv6]:port or :port (every
                               interface), e.g. 127.0.0.1:9464.
          --metrics-series N   Per-process and per-cgroup series for at most N
                               pids and N cgroups each; the rest are summed
                               into pid="other" / cgroup_id="other" (default 50).
        \(RuleOptions.help)
        \(AlertmanagerCLIOptions.help)
        \(CaptureOptions.help)
          -h, --help           Show this help.
        """

    var outputPath: String?
    var duration: Double?
    var quiet = false
    var writesGraph = true
    var metricsAddress: String?
    var metricsOptions = MetricsOptions()
    var rules = RuleOptions()
    var capture = CaptureOptions()
    var alertmanager = AlertmanagerCLIOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption() {
            if try capture.parse(name, inline, &arguments) { continue }
            if try rules.parse(name, inline, &arguments) { continue }
            if try alertmanager.parse(name, inline, &arguments) { continue }
            switch name {
            case "--output":
                outputPath = try arguments.value(for: name, inline: inline)
            case "--duration":
                duration = try parseSeconds(arguments.value(for: name, inline: inline), option: name)
            case "--quiet":
                quiet = true
            case "--no-graph":
                writesGraph = false
            case "--metrics":
                metricsAddress = try arguments.value(for: name, inline: inline)
            case "--metrics-series":
                let count = try parseInteger(arguments.value(for: name, inline: inline), option: name,
                                             as: Int.self, range: 0...10_000)
                metricsOptions.processSeries = count
                metricsOptions.cgroupSeries = count
            default:
                throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        try capture.validate()
        try rules.validate()
        try alertmanager.validate(rules: rules)
        _ = try listenAddress()
    }

    private func listenAddress() throws(UsageError) -> ListenAddress? {
        guard let metricsAddress else { return nil }
        do {
            return try ListenAddress(parsing: metricsAddress)
        } catch {
            throw UsageError("--metrics: \(error)")
        }
    }

    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var ruleSet: RuleSet?
        if rules.enabled {
            do {
                ruleSet = try loadRuleSet(rules.paths)
            } catch {
                printError("ark-probe run: \(error)")
                return 1
            }
        }
        var configuration = AgentConfiguration()
        configuration.pipeline.filter = capture.filter
        configuration.lineDelayNanoseconds = capture.lineDelayNanoseconds
        configuration.pipeline.writesEvents = !quiet
        configuration.pipeline.writesGraph = writesGraph
        configuration.pipeline.rules = ruleSet
        configuration.duration = duration
        configuration.metrics = metricsOptions
        let notifier: AlertmanagerNotifier?
        do {
            notifier = try alertmanager.start(host: hostName(), clock: WallClock.measure())
        } catch {
            printError("ark-probe run: \(error)")
            return 1
        }
        if let notifier {
            configuration.alertObserver = { notifier.send($0) }
            configuration.extraMetrics = { appendAlertmanagerMetrics(notifier.counters, to: &$0) }
        }
        return runAgent(command: Self.name, outputPath: outputPath, probeOptions: capture.probe,
                        configuration: configuration, summary: quiet, alertmanager: notifier,
                        metricsAddress: try? listenAddress())
    }
}

/// Loads the probe, runs the agent and reports how it ended; the exit status.
/// Alerts not yet delivered to Alertmanager get 2 s more once it stopped.
/// With `metricsAddress`, the server listens before the probe loads, so
/// a bad or busy address fails fast.
func runAgent(command: String, outputPath: String?, probeOptions: ProbeOptions,
              configuration: AgentConfiguration, summary: Bool, alertmanager: AlertmanagerNotifier? = nil,
              metricsAddress: ListenAddress? = nil) -> Int32 {
    let output: LineOutput
    let probe: Probe
    var metricsServer: MetricsServer?
    do {
        output = try openOutput(outputPath)
        if let metricsAddress {
            do {
                metricsServer = try MetricsServer(address: metricsAddress)
            } catch {
                printError("ark-probe \(command): \(error)")
                return 1
            }
        }
        // The code and data of start-up so far (arguments, rules) leave the
        // resident set before the kernel's BTF is parsed, the peak of a start.
        CodeResidency.releaseStartupMemory()
        probe = try Probe(options: probeOptions)
    } catch {
        printError("ark-probe \(command): \(error)")
        return 1
    }
    reportAttachment(probe.report)
    if let metricsServer { printError("ark-probe: metrics at http://\(metricsServer.address)/metrics") }
    let result: AgentResult
    do {
        result = try Agent(probe: probe, output: output, configuration: configuration,
                           metricsServer: metricsServer).run()
    } catch {
        printError("ark-probe \(command): \(error)")
        if let alertmanager { _ = finishAlertmanager(alertmanager, withinSeconds: 2) }
        return 1
    }
    if let alertmanager { _ = finishAlertmanager(alertmanager, withinSeconds: 2) }
    if result.stop == .outputClosed { return 0 }
    if summary { printSummary(result.totals) }
    var ending = "ark-probe: stopped (\(describe(result.stop))): \(result.recordsRead) records read, "
        + "\(result.eventsWritten) event lines written, \(result.lostRecords) records lost"
    if result.malformedRecords > 0 { ending += ", \(result.malformedRecords) malformed records" }
    printError(ending)
    return 0
}

/// A positive number of seconds.
func parseSeconds(_ text: String, option: String) throws(UsageError) -> Double {
    guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
        throw UsageError("\(option) takes a positive number of seconds, not '\(text)'")
    }
    return seconds
}

private func reportAttachment(_ report: AttachReport) {
    let owners = report.attributesBySocketOwner
        ? "owners claimed by the sockets' processes"
        : "owners are the task on the CPU (degraded: no owner-claim hook loaded; may be wrong for softirq retransmits)"
    let outcome = report.reportsFailedRetransmits ? "with outcome" : "without outcome"
    printError("ark-probe: retransmits via \(report.retransmitMode.rawValue) \(outcome); \(owners)")
    for status in report.features where status.state != .on {
        printError("ark-probe:   \(status.feature.rawValue) \(status.state.rawValue): \(status.reason ?? "")")
    }
}

private func printSummary(_ totals: ProcessTotals) {
    printError("     PID  COMMAND          RETRANS-SEGS  EVENTS   RTO  FAILED-SEGS  DROPS")
    for entry in totals.sorted {
        let columns = [
            String(entry.pid).leftPadded(8), "  ", entry.command.description.padding(to: 15),
            String(entry.retransmittedSegments).leftPadded(14), String(entry.retransmitEvents).leftPadded(8),
            String(entry.rtoEvents).leftPadded(6), String(entry.failedSegments).leftPadded(13),
            String(entry.kernelDrops).leftPadded(7),
        ]
        printError(columns.joined())
    }
}

private func describe(_ stop: AgentStop) -> String {
    switch stop {
    case .signal(SIGINT): "SIGINT"
    case .signal(SIGTERM): "SIGTERM"
    case .signal(let number): "signal \(number)"
    case .durationElapsed: "duration elapsed"
    case .outputClosed: "output closed"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
