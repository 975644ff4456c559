import ProbeEvents
import RuleEngine
import RuleLanguage
import StateGraph
import TraceFormat

/// Bytes → one rule file → `RuleEngine.load`, as `ark-probe run --rules`
/// and `check` load it. Rejected files must name, for every error, the
/// file and a line and column inside it; accepted rules then run over a
/// small scenario (events, graph ticks), which evaluates their compiled
/// conditions, values and messages.
enum RuleLoaderHarness {
    static let file = "fuzz.yaml"

    static func run(_ bytes: [UInt8]) -> FuzzOutcome {
        let lines = SourceLines(bytes)
        do {
            let rules = try RuleEngine.load(files: [(file, bytes)])
            let (alerts, badLines) = RuleScenario.run(rules)
            return FuzzOutcome(accepted: true, violations: badLines.map { "alert line is not a JSON object: \($0)" },
                               summary: "\(rules.rules.count) rules, \(alerts) alerts in the scenario")
        } catch {
            var violations: [String] = []
            if error.errors.isEmpty { violations.append("the loader failed without an error") }
            for error in error.errors {
                if let problem = lines.problem(with: error, file: file) { violations.append(problem) }
            }
            return FuzzOutcome(accepted: false, errors: error.errors.map(LocatedError.init), violations: violations,
                               summary: "\(error.errors.count) errors")
        }
    }
}

/// Bytes → the text of an expression. The text (bytes decoded as UTF-8,
/// invalid bytes replaced) is written as a double-quoted YAML scalar,
/// escaped so that the scalar's value is exactly the text, in five places
/// of a rule file: the body of macro `fuzzed`, the `condition:` and the
/// `value:` of a rule on events (so it is parsed, typed, compiled and
/// evaluated), through the macro in the condition of a rule on a graph
/// subject, and in a message placeholder, `{text}`. Every error must be
/// located inside one of those scalars (or in macro `hot`, which the text
/// may use).
enum ExpressionHarness {
    static let file = "expression.yaml"

    struct Embedding {
        var bytes: [UInt8]
        /// Where each quoted copy of the text sits: line, and the columns
        /// of its opening and closing quotes.
        var spans: [(line: Int, open: Int, close: Int)]
    }

    /// The rule file for `text`; the lists and macro give names for the
    /// expression to refer to.
    static func embed(_ text: String) -> Embedding {
        let quoted = "\"" + yamlDoubleQuoted(text) + "\""
        let width = quoted.unicodeScalars.count
        var lines: [String] = []
        var spans: [(line: Int, open: Int, close: Int)] = []
        func add(_ line: String) { lines.append(line) }
        func addQuoted(_ prefix: String) {
            let column = prefix.unicodeScalars.count + 1
            spans.append((lines.count + 1, column, column + width - 1))
            lines.append(prefix + quoted)
        }
        add("lists:")
        add("  ports: [80, 443, 29500]")
        add("  names: ['python3', \"torchrun\"]")
        add("  causes: [rto, fast]")
        add("  waits: [1s, 500ms]")
        add("macros:")
        // The fuzzed text may use `hot`, whose errors are its own.
        let hot = "\"rate(segments, 10s) > 2 and dport in ports\""
        spans.append((lines.count + 1, 8, 7 + hot.count))
        add("  hot: " + hot)
        addQuoted("  fuzzed: ")
        add("rules:")
        add("  - rule: fuzz-event")
        add("    description: the fuzzed text as a condition and a value")
        add("    on: transport.drop")
        addQuoted("    condition: ")
        addQuoted("    value: ")
        add("    severity: info")
        add("    message: \"pid {pid} ({comm}): {value} segments to {daddr}:{dport}\"")
        add("  - rule: fuzz-edge")
        add("    description: the fuzzed text through a macro, on a graph subject")
        add("    on: waits_on_network")
        add("    condition: \"fuzzed\"")
        spans.append((lines.count, 16, 23))
        add("    severity: warning")
        add("    message: \"task {pid} waits on {peer}\"")
        add("  - rule: fuzz-message")
        add("    description: the fuzzed text in a message placeholder")
        add("    on: transport.drop")
        add("    condition: \"true\"")
        add("    severity: info")
        let message = "\"" + yamlDoubleQuoted("segments {segments}: {" + text + "}!") + "\""
        spans.append((lines.count + 1, 14, 13 + message.unicodeScalars.count))
        add("    message: " + message)
        return Embedding(bytes: Array((lines.joined(separator: "\n") + "\n").utf8), spans: spans)
    }

    static func run(_ bytes: [UInt8]) -> FuzzOutcome {
        let text = String(decoding: bytes, as: UTF8.self)
        let embedding = embed(text)
        let lines = SourceLines(embedding.bytes)
        do {
            let rules = try RuleEngine.load(files: [(file, embedding.bytes)])
            let (alerts, badLines) = RuleScenario.run(rules)
            return FuzzOutcome(accepted: true, violations: badLines.map { "alert line is not a JSON object: \($0)" },
                               summary: "\(rules.rules.count) rules, \(alerts) alerts in the scenario")
        } catch {
            var violations: [String] = []
            if error.errors.isEmpty { violations.append("the loader failed without an error") }
            for error in error.errors {
                if let problem = lines.problem(with: error, file: file) {
                    violations.append(problem)
                } else if !embedding.spans.contains(where: { $0.line == error.line && ($0.open...$0.close + 1).contains(error.column) }) {
                    violations.append("error outside the expression's text: \(error)")
                }
            }
            return FuzzOutcome(accepted: false, errors: error.errors.map(LocatedError.init), violations: violations,
                               summary: "\(error.errors.count) errors")
        }
    }
}

/// `text` escaped for a YAML double-quoted scalar whose value is `text`
/// exactly: quotes, backslashes, line breaks (which YAML would fold) and
/// the characters libyaml refuses in a file are escapes; the rest stays.
func yamlDoubleQuoted(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
    for scalar in text.unicodeScalars {
        let value = scalar.value
        switch value {
        case 0x22: out.append(contentsOf: "\\\"".unicodeScalars)
        case 0x5C: out.append(contentsOf: "\\\\".unicodeScalars)
        case 0x0A: out.append(contentsOf: "\\n".unicodeScalars)
        case 0x0D: out.append(contentsOf: "\\r".unicodeScalars)
        case 0x09, 0x20...0x7E: out.append(scalar)
        case 0x85: out.append(contentsOf: "\\N".unicodeScalars)
        case 0x2028: out.append(contentsOf: "\\L".unicodeScalars)
        case 0x2029: out.append(contentsOf: "\\P".unicodeScalars)
        case 0...0xFF where value < 0xA0: out.append(contentsOf: ("\\x" + hex(value, digits: 2)).unicodeScalars)
        case 0xFEFF, 0xFFFE, 0xFFFF: out.append(contentsOf: ("\\u" + hex(value, digits: 4)).unicodeScalars)
        default: out.append(scalar)
        }
    }
    return String(out)
}

extension LocatedError {
    init(_ error: RuleFileError) {
        self.init(file: error.file, line: error.line, column: error.column, message: error.message)
    }
}

/// The lines of a rule file as libyaml counts them: breaks are LF, CR,
/// CRLF, NEL, LS and PS; columns count characters (for invalid UTF-8,
/// every byte that is not a continuation byte); a leading byte-order mark
/// is not a column.
struct SourceLines {
    /// Characters of each line, without its break.
    let lengths: [Int]

    init(_ bytes: [UInt8]) {
        var lengths: [Int] = []
        var offset = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var length = 0
        func byte(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }
        while offset < bytes.count {
            let breakLength: Int
            switch bytes[offset] {
            case 0x0A: breakLength = 1
            case 0x0D: breakLength = byte(offset + 1) == 0x0A ? 2 : 1
            case 0xC2 where byte(offset + 1) == 0x85: breakLength = 2
            case 0xE2 where byte(offset + 1) == 0x80 && (byte(offset + 2) == 0xA8 || byte(offset + 2) == 0xA9): breakLength = 3
            default: breakLength = 0
            }
            if breakLength > 0 {
                lengths.append(length)
                length = 0
                offset += breakLength
            } else {
                if bytes[offset] & 0xC0 != 0x80 { length += 1 }
                offset += 1
            }
        }
        lengths.append(length)
        self.lengths = lengths
    }

    /// Why `error` is not a located error of `file`, or nil when it is:
    /// the file's name, a line of the file, a column of that line (or
    /// just past its end), and a message. One more position is accepted:
    /// column 1 of the line after the last, where libyaml puts the end of
    /// a file that does not end in a line break (it adds one at the end of
    /// the stream), for errors such as an unfinished key at the end.
    func problem(with error: RuleFileError, file: String) -> String? {
        if error.file != file { return "error names file '\(error.file)', not '\(file)': \(error)" }
        if error.message.isEmpty { return "error without a message: \(error)" }
        if error.line == lengths.count + 1 && error.column == 1 { return nil }
        guard (1...lengths.count).contains(error.line) else {
            return "error on line \(error.line), but the file has \(lengths.count) lines: \(error)"
        }
        let length = lengths[error.line - 1]
        guard (1...length + 1).contains(error.column) else {
            return "error at column \(error.column), but line \(error.line) has \(length) characters: \(error)"
        }
        return nil
    }
}

/// A fixed scenario that runs loaded rules the way the agent does (graph,
/// then engine, ticks every 500 ms): two processes retransmitting to one
/// peer with RTOs and backoff, a congestion change, a failed retransmit,
/// kernel drops, a process exit, then quiet.
enum RuleScenario {
    static let start: UInt64 = 5_000_000_000
    static let tick: UInt64 = 500_000_000

    static let events: [ProbeEvent] = {
        let peer = IPAddress(ipv4: 10, 0, 0, 2)
        func connection(_ port: UInt16) -> Connection {
            Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: port,
                       remoteAddress: peer, remotePort: 29500, state: .established)
        }
        let trainer = SocketOwner(pid: 1024, tid: 1025, uid: 0, cgroupID: 9, command: Command("python3"), source: .socket)
        let loader = SocketOwner(pid: 2048, tid: 2048, uid: 1000, cgroupID: 9, command: Command("torchrun"), source: .existingSocket)
        var events: [ProbeEvent] = []
        for i in 0..<10 {
            let time = start + UInt64(i) * 300_000_000
            events.append(ProbeEvent(kind: .retransmit, monotonicNanoseconds: time, owner: trainer, connection: connection(40000),
                                     socketCookie: 77, networkNamespace: 4_026_531_840, segments: UInt32(1 + i % 3),
                                     cause: i % 3 == 0 ? .fastRetransmit : .rto, congestionState: .loss, backoff: UInt8(i % 5)))
            if i % 2 == 0 {
                events.append(ProbeEvent(kind: .retransmit, monotonicNanoseconds: time + 1000, owner: loader, connection: connection(40001),
                                         socketCookie: 78, networkNamespace: 4_026_531_840, segments: 1, cause: .rto, backoff: 2))
            }
            events.append(ProbeEvent(kind: .drop, monotonicNanoseconds: time + 2000, networkNamespace: 4_026_531_840,
                                     dropReason: UInt32(2 + i % 2 * 10)))
        }
        events.append(ProbeEvent(kind: .congestionState, monotonicNanoseconds: start + 3_100_000_000, owner: trainer,
                                 connection: connection(40000), socketCookie: 77, congestionState: .recovery,
                                 previousCongestionState: .open))
        events.append(ProbeEvent(kind: .retransmit, monotonicNanoseconds: start + 3_200_000_000, owner: trainer,
                                 connection: connection(40000), socketCookie: 77, segments: 3, error: 16, cause: .tailLossProbe))
        events.append(ProbeEvent(kind: .synAckRetransmit, monotonicNanoseconds: start + 3_300_000_000,
                                 connection: connection(29500), socketCookie: 79, segments: 1, cause: .synAck))
        events.append(ProbeEvent(kind: .processExit, monotonicNanoseconds: start + 3_400_000_000, owner: loader, dropReason: 256))
        return events
    }()

    /// Runs `rules` over the scenario and writes their alerts as the agent
    /// does: the number of alerts, and the alert lines that are not a JSON
    /// object.
    static func run(_ rules: RuleSet) -> (alerts: Int, badLines: [String]) {
        let engine = RuleEngine(rules: rules, dropReasonNames: [2: "NOT_SPECIFIED", 12: "NETFILTER_DROP"])
        var graph = StateGraph()
        var changes: [GraphChange] = []
        var alerts: [Alert] = []
        var count = 0
        var badLines: [String] = []
        let encoder = AlertLineEncoder(clock: WallClock(offsetNanoseconds: 1_710_000_000_000_000_000))
        var writer = JSONLineWriter(capacity: 4096)
        func flush() {
            count += alerts.count
            for alert in alerts {
                writer.removeAll()
                encoder.encode(alert, into: &writer)
                let line = Array(writer.bytes.dropLast())
                if case .object? = try? JSONValue(parsing: line) {} else {
                    badLines.append(String(decoding: line, as: UTF8.self))
                }
            }
            alerts.removeAll(keepingCapacity: true)
        }
        var nextTick = (start / tick + 1) * tick
        func advance(to time: UInt64) {
            while nextTick <= time {
                graph.advance(to: nextTick, changes: &changes)
                engine.evaluate(graph: graph, at: nextTick, alerts: &alerts)
                flush()
                changes.removeAll(keepingCapacity: true)
                nextTick += tick
            }
        }
        for event in events {
            advance(to: event.monotonicNanoseconds)
            graph.apply(event, changes: &changes)
            engine.observe(event, alerts: &alerts)
            flush()
            changes.removeAll(keepingCapacity: true)
        }
        advance(to: start + 20_000_000_000)
        return (count, badLines)
    }
}
