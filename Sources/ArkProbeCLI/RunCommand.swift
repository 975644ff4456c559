import Agent
import KernelProbe
import ProbeEvents
import RuleEngine
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe run`: load the probe and stream JSONL until stopped.
struct RunCommand: Subcommand {
    static let name = "run"
    static let abstract = "Load the probe and write events as JSONL (stdout by default)."
    static let usage = """
        USAGE: ark-probe run [options]

        Loads the eBPF probe into the running kernel and writes one JSON object
        per line: TCP retransmissions ("transport.drop", value = segments),
        failed retransmissions, congestion-state changes and kernel drops of
        TCP packets, each attributed to the process that owns the socket.
        Diagnostics go to stderr. Stops on SIGINT or SIGTERM after writing
        every event already read. Needs root, or CAP_BPF and CAP_PERFMON.

        OPTIONS:
          --output FILE        Append JSONL to FILE instead of stdout.
          --duration SECONDS   Stop after SECONDS (may be fractional).
          --pid PID            Only events of process PID (repeatable).
          --cgroup ID|PATH     Only events of this cgroup v2, by id or by path
                               such as /sys/fs/cgroup/system.slice/x.service
                               (repeatable).
          --port PORT          Only connections with PORT at either end
                               (repeatable).
          --quiet              No event lines; at exit, one "probe.summary"
                               line per process and a table on stderr.
                               Graph and alert lines are still written.
          --rules PATH         Evaluate the rules in PATH, a rule file or a
                               directory of *.yaml files (repeatable). Default:
                               the shipped rules (rules/ in the source tree,
                               built into the binary).
          --no-rules           Evaluate no rules.
          --no-graph           Do not write graph lines (the graph is still
                               kept for the rules).
          --attach MODES       Comma-separated ways to attach the retransmit
                               hook, tried in order (default:
                               tp_btf,tracepoint,kprobe).
          --ring-buffer-kb N   Kernel ring buffer size in KiB, a power of two
                               (default 512). Lost records are reported as
                               "probe.loss" lines.
          --no-drops           Do not trace kernel drops (skb:kfree_skb).
          --no-congestion      Do not report congestion-state changes.
          -h, --help           Show this help.
        """

    var outputPath: String?
    var duration: Double?
    var filter = EventFilter()
    var quiet = false
    var rulePaths: [String] = []
    var usesRules = true
    var writesGraph = true
    var probeOptions = ProbeOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        var cgroups: [String] = []
        while let (name, inline) = try arguments.nextOption() {
            switch name {
            case "--output":
                outputPath = try arguments.value(for: name, inline: inline)
            case "--duration":
                let text = try arguments.value(for: name, inline: inline)
                guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
                    throw UsageError("--duration takes a positive number of seconds, not '\(text)'")
                }
                duration = seconds
            case "--pid":
                filter.pids.insert(try parseInteger(
                    arguments.value(for: name, inline: inline), option: name, as: UInt32.self, range: 1...UInt32.max))
            case "--cgroup":
                cgroups.append(try arguments.value(for: name, inline: inline))
            case "--port":
                filter.ports.insert(try parseInteger(
                    arguments.value(for: name, inline: inline), option: name, as: UInt16.self, range: 1...UInt16.max))
            case "--quiet":
                quiet = true
            case "--rules":
                rulePaths.append(try arguments.value(for: name, inline: inline))
            case "--no-rules":
                usesRules = false
            case "--no-graph":
                writesGraph = false
            case "--attach":
                let text = try arguments.value(for: name, inline: inline)
                var modes: [AttachMode] = []
                for word in text.split(separator: ",") {
                    guard let mode = AttachMode(rawValue: String(word)) else {
                        throw UsageError("--attach takes tp_btf, tracepoint or kprobe (comma-separated), not '\(word)'")
                    }
                    modes.append(mode)
                }
                probeOptions.attachModes = modes
            case "--ring-buffer-kb":
                let kilobytes = try parseInteger(
                    arguments.value(for: name, inline: inline), option: name, as: UInt32.self, range: 4...1_048_576)
                probeOptions.ringBufferBytes = kilobytes * 1024
            case "--no-drops":
                probeOptions.captureDrops = false
            case "--no-congestion":
                probeOptions.captureCongestionState = false
            default:
                throw arguments.unknown(name)
            }
        }
        for cgroup in cgroups {
            filter.cgroupIDs.insert(try Self.cgroupID(cgroup))
        }
    }

    func validate() throws(UsageError) {
        if !usesRules && !rulePaths.isEmpty {
            throw UsageError("--rules and --no-rules contradict each other; give one")
        }
        if probeOptions.attachModes.isEmpty {
            throw UsageError("--attach needs at least one mode: tp_btf, tracepoint or kprobe")
        }
        let bytes = probeOptions.ringBufferBytes
        if bytes & (bytes - 1) != 0 {
            throw UsageError("--ring-buffer-kb must be a power of two (4, 8, ..., 512, 1024, ...), not \(bytes / 1024)")
        }
    }

    /// A cgroup v2 id is the inode number of its directory.
    static func cgroupID(_ text: String) throws(UsageError) -> UInt64 {
        if let id = UInt64(text) { return id }
        var status = stat()
        guard stat(text, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw UsageError("--cgroup takes a cgroup id or the path of a cgroup v2 directory; '\(text)' is neither")
        }
        return UInt64(status.st_ino)
    }

    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var rules: RuleSet?
        if usesRules {
            do {
                rules = try loadRuleSet(rulePaths)
            } catch {
                printError("ark-probe run: \(error)")
                return 1
            }
        }
        let output: LineOutput
        do {
            output = try outputPath.map { path throws(LineOutput.Failure) in try LineOutput(appendingTo: path) }
                ?? LineOutput()
        } catch {
            printError("ark-probe run: \(error)")
            return 1
        }
        let probe: Probe
        do {
            probe = try Probe(options: probeOptions)
        } catch {
            printError("ark-probe run: \(error)")
            return 1
        }
        reportAttachment(probe.report)

        var configuration = AgentConfiguration()
        configuration.pipeline.filter = filter
        configuration.pipeline.writesEvents = !quiet
        configuration.pipeline.writesGraph = writesGraph
        configuration.pipeline.rules = rules
        configuration.duration = duration
        let result: AgentResult
        do {
            result = try Agent(probe: probe, output: output, configuration: configuration).run()
        } catch {
            printError("ark-probe run: \(error)")
            return 1
        }
        if result.stop == .outputClosed { return 0 }
        if quiet { printSummary(result.totals) }
        var ending = "ark-probe: stopped (\(Self.describe(result.stop))): \(result.recordsRead) records read, "
            + "\(result.eventsWritten) event lines written, \(result.lostRecords) records lost"
        if result.malformedRecords > 0 { ending += ", \(result.malformedRecords) malformed records" }
        printError(ending)
        return 0
    }

    private func reportAttachment(_ report: AttachReport) {
        for attempt in report.failedAttempts {
            printError("ark-probe: could not attach via \(attempt)")
        }
        let owners = report.attributesBySocketOwner
            ? "owners from socket storage and a walk of existing sockets"
            : "owners are the task on the CPU (degraded: may be wrong for softirq retransmits)"
        let outcome = report.reportsFailedRetransmits ? "with outcome" : "without outcome (kernel < 6.17 or kprobe)"
        printError("ark-probe: retransmits via \(report.retransmitMode.rawValue) \(outcome); \(owners)")
        for hook in report.attachedHooks { printError("ark-probe:   \(hook)") }
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

    static func describe(_ stop: AgentStop) -> String {
        switch stop {
        case .signal(SIGINT): "SIGINT"
        case .signal(SIGTERM): "SIGTERM"
        case .signal(let number): "signal \(number)"
        case .durationElapsed: "duration elapsed"
        case .outputClosed: "output closed"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
