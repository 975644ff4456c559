import Agent
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe record`: capture the live probe stream to a trace file that
/// holds everything `replay` needs.
struct RecordCommand: Subcommand {
    static let name = "record"
    static let abstract = "Record the live probe stream to a JSONL trace for replay and rule tests."
    static let usage = """
        USAGE: ark-probe record --output FILE [--duration SECONDS] [options]

        Writes the probe's raw events, with kernel time (ktime_ns), and the
        "probe.started" line (host, kernel, attach details, clock offset) to
        FILE: what "ark-probe replay" and "ark-probe test" need. No rules run
        and no graph lines are written. Progress (events, losses, elapsed)
        goes to stderr every 5 seconds. Stops on SIGINT, SIGTERM or after
        --duration. Needs root, or CAP_BPF and CAP_PERFMON.

        OPTIONS:
          --output FILE        The trace to write (appended to if it exists).
          --duration SECONDS   Stop after SECONDS.
        \(CaptureOptions.help)
          -h, --help           Show this help.
        """

    var outputPath = ""
    var duration: Double?
    var capture = CaptureOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption() {
            if try capture.parse(name, inline, &arguments) { continue }
            switch name {
            case "--output": outputPath = try arguments.value(for: name, inline: inline)
            case "--duration": duration = try parseSeconds(arguments.value(for: name, inline: inline), option: name)
            default: throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        if outputPath.isEmpty {
            throw UsageError("record needs --output FILE: the trace to write")
        }
        try capture.validate()
    }

    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var configuration = AgentConfiguration()
        configuration.pipeline.filter = capture.filter
        configuration.lineDelayNanoseconds = capture.lineDelayNanoseconds
        configuration.pipeline.writesGraph = false
        configuration.duration = duration
        configuration.progressIntervalSeconds = 5
        configuration.progress = { progress in
            printError("ark-probe record: \(Int(progress.elapsedSeconds)) s, \(progress.eventsWritten) events, "
                       + "\(progress.lostRecords) lost")
        }
        return runAgent(command: Self.name, outputPath: outputPath, probeOptions: capture.probe,
                        configuration: configuration, summary: false)
    }
}
