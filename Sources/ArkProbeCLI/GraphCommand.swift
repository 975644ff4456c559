import Agent
import KernelProbe
import ProbeEvents
import StateGraph
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe graph`: who waits on whom, as Graphviz dot or JSON.
struct GraphCommand: Subcommand {
    static let name = "graph"
    static let abstract = "Show the state graph (who waits on the network) as Graphviz dot or JSON."
    static let usage = """
        USAGE: ark-probe graph [TRACE...] [--format dot|json] [--duration SECONDS]

        Builds the state graph (processes, the network and peers they wait on,
        their connections with recent retransmissions; each job's processes
        grouped, its ranks that wait on nothing too) and prints it at the
        end: from recorded traces when TRACE files are given (no root
        needed), else live from the kernel for --duration seconds (default
        10; needs root or CAP_BPF and CAP_PERFMON).

            ark-probe graph --duration 30 | dot -Tsvg > graph.svg

        OPTIONS:
          --format dot|json    Output format (default dot).
          --duration SECONDS   How long to watch the live kernel (default 10).
        \(CaptureOptions.help)
          -h, --help           Show this help.
        """

    var traces: [String] = []
    var json = false
    var duration = 10.0
    var capture = CaptureOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption(collecting: &traces) {
            if try capture.parse(name, inline, &arguments) { continue }
            switch name {
            case "--format":
                let format = try arguments.value(for: name, inline: inline)
                guard format == "dot" || format == "json" else {
                    throw UsageError("--format takes dot or json, not '\(format)'")
                }
                json = format == "json"
            case "--duration":
                duration = try parseSeconds(arguments.value(for: name, inline: inline), option: name)
            default:
                throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        try capture.validate()
    }

    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let graph: StateGraph
        let time: UInt64
        if traces.isEmpty {
            var configuration = AgentConfiguration()
            configuration.pipeline.filter = capture.filter
            configuration.pipeline.writesEvents = false
            configuration.pipeline.writesGraph = false
            configuration.duration = duration
            do {
                let probe = try Probe(options: capture.probe)
                let result = try Agent(probe: probe, output: LineOutput(appendingTo: "/dev/null"),
                                       configuration: configuration).run()
                (graph, time) = (result.graph, result.endTime)
            } catch {
                printError("ark-probe graph: \(error)")
                return 1
            }
        } else {
            var options = Replay.Options()
            options.pipeline.filter = capture.filter
            options.pipeline.writesEvents = false
            options.pipeline.writesGraph = false
            let replay = Replay(options: options)
            do {
                try replay.run(traces) { (_: inout JSONLineWriter) throws(LineOutput.Failure) in }
            } catch {
                printError("ark-probe graph: \(error)")
                return 1
            }
            (graph, time) = (replay.graph ?? StateGraph(), replay.endTime)
        }
        printOutput((json ? graph.json(at: time) : graph.dot(at: time)).trimmingTrailingNewline())
        return 0
    }
}

extension String {
    func trimmingTrailingNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}
