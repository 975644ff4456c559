import Agent
import Alertmanager
import KernelProbe
import ProbeEvents
#if canImport(Glibc)
import Glibc
#endif

/// What to capture and how to attach: options of `run` and `record`.
struct CaptureOptions {
    static let help = """
          --pid PID            Only events of process PID (repeatable).
          --cgroup ID|PATH     Only events of this cgroup v2, by id or by path
                               such as /sys/fs/cgroup/system.slice/x.service
                               (repeatable).
          --port PORT          Only connections with PORT at either end
                               (repeatable).
          --attach MODES       Comma-separated ways to attach the retransmit
                               hook, tried in order (default:
                               tp_btf,tracepoint,kprobe).
          --ring-buffer-kb N   Kernel ring buffer size in KiB, a power of two
                               (default 1024). Lost records are reported as
                               "probe.loss" lines.
          --line-delay MS      Read the kernel's ring every MS milliseconds
                               (1-100) at any rate: lines come up to MS ms
                               later, and the agent wakes about 1000/MS times
                               a second instead of every few records (100:
                               once per 100 ms rule tick). By default it
                               reads every 0.5-4 ms, aiming at a few records
                               a read (lines within 1 ms at 10,000
                               events/s). Either way a burst that fills a
                               quarter of the ring is read at once.
          --disable FEATURES   Comma-separated optional features not to load
                               (repeatable); 'ark-probe features' lists them.
          --no-drops           Same as --disable drops.
          --no-congestion      Same as --disable congestion-states.
          --teardown-drop-lines
                               Write a transport.kernel_drop line for each
                               drop of a socket torn down with data queued
                               (QUEUE_PURGE, SOCKET_CLOSE) too; by default the
                               kernel only counts them, by reason (metrics,
                               and "probe.stopped").
        """

    var filter = EventFilter()
    var probe = ProbeOptions()
    /// `--line-delay`, in nanoseconds; nil: adaptive.
    var lineDelayNanoseconds: UInt64?
    private var cgroups: [String] = []

    /// Consumes option `name` if it is one of these; false if not.
    mutating func parse(_ name: String, _ inline: String?, _ arguments: inout ArgumentReader) throws(UsageError) -> Bool {
        switch name {
        case "--pid":
            filter.pids.insert(try parseInteger(
                arguments.value(for: name, inline: inline), option: name, as: UInt32.self, range: 1...UInt32.max))
        case "--cgroup":
            let text = try arguments.value(for: name, inline: inline)
            filter.cgroupIDs.insert(try Self.cgroupID(text))
        case "--port":
            filter.ports.insert(try parseInteger(
                arguments.value(for: name, inline: inline), option: name, as: UInt16.self, range: 1...UInt16.max))
        case "--attach":
            let text = try arguments.value(for: name, inline: inline)
            var modes: [AttachMode] = []
            for word in text.split(separator: ",") {
                guard let mode = AttachMode(rawValue: String(word)) else {
                    throw UsageError("--attach takes tp_btf, tracepoint or kprobe (comma-separated), not '\(word)'")
                }
                modes.append(mode)
            }
            probe.attachModes = modes
        case "--ring-buffer-kb":
            let kilobytes = try parseInteger(
                arguments.value(for: name, inline: inline), option: name, as: UInt32.self, range: 4...1_048_576)
            probe.ringBufferBytes = kilobytes * 1024
        case "--line-delay":
            let milliseconds = try parseInteger(
                arguments.value(for: name, inline: inline), option: name, as: UInt64.self, range: 1...100)
            lineDelayNanoseconds = milliseconds * 1_000_000
        case "--disable":
            let text = try arguments.value(for: name, inline: inline)
            for word in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let feature = ProbeFeature(rawValue: String(word)) else {
                    let names = ProbeFeature.allCases.dropFirst().map(\.rawValue).joined(separator: ", ")
                    throw UsageError("--disable takes optional features (\(names)), not '\(word)'")
                }
                guard feature != .retransmits else {
                    throw UsageError("--disable retransmits: the retransmit hook is what the agent is for; "
                                     + "choose how it attaches with --attach")
                }
                probe.disabledFeatures.insert(feature)
            }
        case "--no-drops":
            probe.disabledFeatures.insert(.drops)
        case "--no-congestion":
            probe.disabledFeatures.insert(.congestionStates)
        case "--teardown-drop-lines":
            probe.countedOnlyDropReasons = []
        default:
            return false
        }
        return true
    }

    func validate() throws(UsageError) {
        if probe.attachModes.isEmpty {
            throw UsageError("--attach needs at least one mode: tp_btf, tracepoint or kprobe")
        }
        let bytes = probe.ringBufferBytes
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
}

/// Which rules to evaluate: options of `run` and `replay`.
struct RuleOptions {
    static let help = """
          --rules PATH         Evaluate the rules in PATH, a rule file or a
                               directory of *.yaml files (repeatable). Default:
                               the shipped rules (rules/ in the source tree,
                               built into the binary).
          --no-rules           Evaluate no rules.
        """

    var paths: [String] = []
    var enabled = true

    mutating func parse(_ name: String, _ inline: String?, _ arguments: inout ArgumentReader) throws(UsageError) -> Bool {
        switch name {
        case "--rules": paths.append(try arguments.value(for: name, inline: inline))
        case "--no-rules": enabled = false
        default: return false
        }
        return true
    }

    func validate() throws(UsageError) {
        if !enabled && !paths.isEmpty {
            throw UsageError("--rules and --no-rules contradict each other; give one")
        }
    }
}

/// Opens the output: a file (appended to) or stdout.
func openOutput(_ path: String?) throws(LineOutput.Failure) -> LineOutput {
    guard let path else { return LineOutput() }
    return try LineOutput(appendingTo: path)
}

/// Where to push alerts: options of `run` and `replay`.
struct AlertmanagerCLIOptions {
    static let help = """
          --alertmanager URL   Also push alerts to the Alertmanager at URL,
                               http://host:port[/prefix], by its v2 API
                               (repeatable: give every peer of a cluster).
          --alertmanager-resend SECONDS
                               Re-send firing alerts this often (default 60,
                               at least 1);
                               Alertmanager times them out after 4 intervals
                               without news.
        """

    var urls: [AlertmanagerURL] = []
    var options = AlertmanagerOptions()

    mutating func parse(_ name: String, _ inline: String?, _ arguments: inout ArgumentReader) throws(UsageError) -> Bool {
        switch name {
        case "--alertmanager":
            let text = try arguments.value(for: name, inline: inline)
            do {
                let url = try AlertmanagerURL(parsing: text)
                if !urls.contains(url) { urls.append(url) }
            } catch {
                throw UsageError("--alertmanager: \(error)")
            }
        case "--alertmanager-resend":
            let seconds = try parseSeconds(arguments.value(for: name, inline: inline), option: name)
            guard seconds >= 1 else { throw UsageError("--alertmanager-resend takes 1 second or more, not \(seconds)") }
            options.resendIntervalSeconds = seconds
        default:
            return false
        }
        return true
    }

    func validate(rules: RuleOptions) throws(UsageError) {
        if !urls.isEmpty && !rules.enabled {
            throw UsageError("--alertmanager pushes the alerts of rules; it makes no sense with --no-rules")
        }
    }

    /// Starts the sender threads; the CLI logs what they report.
    func start(host: String, clock: WallClock, queueCapacity: Int? = nil) throws(AlertmanagerStartError) -> AlertmanagerNotifier? {
        guard !urls.isEmpty else { return nil }
        var options = options
        if let queueCapacity { options.queueCapacity = max(options.queueCapacity, queueCapacity) }
        return try AlertmanagerNotifier(urls: urls, host: host, clock: clock, options: options) { event in
            printError("ark-probe: \(event)")
        }
    }
}

/// Gives the Alertmanager senders `seconds` to deliver, then says what
/// they did; false if some alerts were not delivered.
func finishAlertmanager(_ notifier: AlertmanagerNotifier, withinSeconds seconds: Double) -> Bool {
    var complete = true
    for counters in notifier.finish(withinSeconds: seconds) {
        var line = "ark-probe: alertmanager \(counters.url): \(counters.alertsSent) alert(s) sent in "
            + "\(counters.postsSent) post(s), \(counters.failedAttempts) failed attempt(s)"
        if counters.rejectedPosts > 0 { line += ", \(counters.rejectedPosts) post(s) refused" }
        if counters.droppedNotifications > 0 { line += ", \(counters.droppedNotifications) notification(s) dropped" }
        if counters.pendingAlerts > 0 {
            line += "; \(counters.pendingAlerts) alert(s) NOT delivered"
            complete = false
        }
        printError(line)
    }
    return complete
}

/// This machine's name, as in the agent's own lines.
func hostName() -> String { unameField(\.nodename) }

/// The running kernel's release, as `uname -r` prints it.
func kernelRelease() -> String { unameField(\.release) }

private func unameField<Field>(_ field: KeyPath<utsname, Field>) -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: name[keyPath: field]) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
