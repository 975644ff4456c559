import KernelProbe
#if canImport(Glibc)
import Glibc
#endif

/// `ark-probe features`: what this kernel gives the probe.
struct FeaturesCommand: Subcommand {
    static let name = "features"
    static let abstract = "Load the probe once and say which features this kernel runs, and how."
    static let usage = """
        USAGE: ark-probe features [--attach MODES] [--disable FEATURES]

        Loads the eBPF probe into the running kernel, as 'ark-probe run' would,
        prints one line per feature and unloads it. A feature is
          on        the best way it has on any kernel,
          fallback  running, a lesser way: the reason says what is missing,
          off       not running: the reason says why (a missing hook, the
                    verifier's last words, or --disable).
        The agent refuses to start only when no retransmit hook can attach.
        The same report is in the "features" key of the "probe.started" line.
        Exits 1 when the probe cannot load at all. Needs root, or CAP_BPF and
        CAP_PERFMON.

        OPTIONS:
          --attach MODES       Comma-separated ways to attach the retransmit
                               hook, tried in order (default:
                               tp_btf,tracepoint,kprobe).
          --disable FEATURES   Comma-separated optional features not to load.
          -h, --help           Show this help.
        """

    var capture = CaptureOptions()

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, inline) = try arguments.nextOption() {
            guard name == "--attach" || name == "--disable" else { throw arguments.unknown(name) }
            _ = try capture.parse(name, inline, &arguments)
        }
    }

    func validate() throws(UsageError) {
        try capture.validate()
    }

    func run() -> Int32 {
        let probe: Probe
        do {
            probe = try Probe(options: capture.probe)
        } catch {
            printError("ark-probe features: \(error)")
            return 1
        }
        var text = "kernel \(kernelRelease())\n"
        text += "FEATURE".padding(to: 24) + "STATE".padding(to: 9) + "HOOK".padding(to: 36) + "WHAT / WHY\n"
        for status in probe.report.features {
            text += status.feature.rawValue.padding(to: 24) + status.state.rawValue.padding(to: 9)
                + (status.hook ?? "-").padding(to: 36) + status.feature.summary + "\n"
            if let reason = status.reason {
                text += String(repeating: " ", count: 24) + "why: " + reason + "\n"
            }
        }
        text.removeLast()
        printOutput(text)
        return 0
    }
}
