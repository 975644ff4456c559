import ProbeEvents
import RuleLanguage

/// Reads a test's `events:`: each item is one event, or a run of equal
/// events repeated `every` interval from `at` to `until` (inclusive) or
/// `count` times, e.g.
///
///     - {at: 0s, every: 100ms, until: 3s, type: transport.drop, pid: 1024,
///        segments: 1, cause: rto, daddr: 10.0.0.2, sport: 40000, dport: 29500, cookie: 7}
///
/// Keys are those of the event's JSONL line (`type` is its `event_type`,
/// `segments` the `value` of a retransmit, `cookie` its `socket_cookie`).
/// Defaults follow the kernel: a retransmit with cause `rto` is in CA state
/// `loss`, one with cause `fast` in `recovery`; `tid` is the pid; the
/// family comes from the addresses; `tcp_state` is ESTABLISHED.
struct InlineEventParser {
    /// More events than this in one test is a mistake (and would not fit in memory).
    static let maximumEvents = 100_000

    static let timingKeys = ["at", "every", "until", "count", "type"]
    static let ownerKeys = ["pid", "tid", "uid", "cgroup_id", "comm"]
    static let connectionKeys = ["saddr", "daddr", "sport", "dport", "tcp_state", "cookie", "netns"]
    static let retransmitKeys = ["segments", "cause", "ca_state", "backoff", "srtt_us", "rto_us", "packets_out"]

    /// The keys each event type takes besides the timing ones.
    static let keysByType: [(type: String, kind: ProbeEvent.Kind, keys: [String])] = [
        ("transport.drop", .retransmit, ownerKeys + connectionKeys + retransmitKeys),
        ("transport.retransmit_failed", .retransmit, ownerKeys + connectionKeys + retransmitKeys + ["error"]),
        ("transport.congestion", .congestionState, ownerKeys + connectionKeys + ["ca_state", "previous_ca_state", "backoff", "srtt_us", "rto_us"]),
        ("transport.kernel_drop", .drop, ownerKeys + connectionKeys + ["reason"]),
        ("process.exit", .processExit, ["pid", "comm", "cgroup_id", "exit_code"]),
    ]

    static let allKeys: [String] = keysByType.reduce(timingKeys) { keys, entry in
        keys + entry.keys.filter { !keys.contains($0) }
    }

    let file: String
    /// Codes given to drop reason names, shared by the whole file.
    var reasonCodes: [String: UInt32] = [:]

    init(file: String) {
        self.file = file
    }

    /// The events of `node` (a list), expanded and in time order; nil
    /// after recording the errors.
    mutating func parse(_ node: YAMLNode, diagnostics: inout Diagnostics) -> [ProbeEvent]? {
        let file = self.file
        guard let items = diagnostics.attempt({ () throws(RuleFileError) in
            try listItems(node, key: "events", item: "an event such as {at: 0s, type: transport.drop, pid: 1024}", file: file)
        }) else { return nil }
        let errorsBefore = diagnostics.errors.count
        var timed: [(event: ProbeEvent, order: Int)] = []
        for item in items {
            guard let (template, times) = readItem(item, diagnostics: &diagnostics) else { continue }
            guard timed.count + times.count <= Self.maximumEvents else {
                diagnostics.record(item.mark, "these events make the test longer than \(Self.maximumEvents) events; "
                                   + "use a longer 'every' or a shorter span")
                return nil
            }
            for time in times {
                var event = template
                event.monotonicNanoseconds = time
                timed.append((event, timed.count))
            }
        }
        guard diagnostics.errors.count == errorsBefore else { return nil }
        guard !items.isEmpty else {
            diagnostics.record(node.mark, "'events' is empty: write at least one event")
            return nil
        }
        return timed.sorted { ($0.event.monotonicNanoseconds, $0.order) < ($1.event.monotonicNanoseconds, $1.order) }
            .map(\.event)
    }

    /// One item: the event (time 0) and the times it happens at.
    private mutating func readItem(_ node: YAMLNode, diagnostics: inout Diagnostics) -> (ProbeEvent, [UInt64])? {
        let errorsBefore = diagnostics.errors.count
        guard let keys = KeyedMapping.read(node, file: file, allowed: Self.allKeys, place: "in an event", diagnostics: &diagnostics) else { return nil }
        guard keys.require(["at", "type"], place: "in an event", diagnostics: &diagnostics),
              let (typeName, kind, allowed) = keys.read("type", diagnostics: &diagnostics, readType) else { return nil }
        for (name, mark) in keys.keys where !Self.timingKeys.contains(name) && !allowed.contains(name) {
            diagnostics.record(mark, "'\(name)' does not apply to \(typeName) events; they take: \(allowed.joined(separator: ", "))")
        }
        let times = readTimes(keys, diagnostics: &diagnostics)
        var event = ProbeEvent(kind: kind, monotonicNanoseconds: 0)
        readOwner(keys, into: &event, diagnostics: &diagnostics)
        readConnection(keys, into: &event, diagnostics: &diagnostics)
        readDetails(keys, typeName: typeName, into: &event, diagnostics: &diagnostics)
        guard diagnostics.errors.count == errorsBefore, let times else { return nil }
        return (event, times)
    }

    private func readType(_ node: YAMLNode) throws(RuleFileError) -> (String, ProbeEvent.Kind, [String]) {
        let choices = Self.keysByType.map { (name: $0.type, value: ($0.type, $0.kind, $0.keys)) }
        return try choice(node, key: "type", file: file, among: choices)
    }

}
