import ProbeEvents
import RuleEngine
import RuleLanguage
import WorkloadIdentity
#if canImport(Glibc)
import Glibc
#endif

/// One alert as Alertmanager's v2 API takes it (a `postableAlert`): its
/// identity is its label set, so every alert of the agent carries the
/// entity it is about.
public struct AlertmanagerAlert: Equatable, Sendable {
    public struct Label: Equatable, Sendable {
        public let name: String
        public let value: String
    }

    /// Sorted by name: alertname, severity, host, entity, pid, comm, peer,
    /// training_job and rank (what the process's launcher says; `job` is
    /// Prometheus's scrape job), then the rule's own labels.
    public let labels: [Label]
    /// The alert's message.
    public let summary: String
    /// The evidence: every field of the subject at the transition.
    public let description: String
    /// The onset (when the condition started to hold), wall-clock ms.
    public let startsAtMilliseconds: UInt64
    /// When it resolved, wall-clock ms; nil while firing.
    public let resolvedAtMilliseconds: UInt64?

    /// Labels the agent sets itself; a rule label of the same name is left
    /// out (the identity of an alert must not depend on a rule's wording).
    public static let reservedLabelNames: Set<String> = [
        "alertname", "severity", "host", "entity", "pid", "comm", "peer", "training_job", "rank",
    ]

    public init(_ alert: Alert, host: String, clock: WallClock) {
        var labels = [Label(name: "alertname", value: alert.rule), Label(name: "severity", value: alert.severity.rawValue)]
        if !host.isEmpty { labels.append(Label(name: "host", value: host)) }
        labels.append(Label(name: "entity", value: alert.entity.description))
        if alert.pid != 0 { labels.append(Label(name: "pid", value: String(alert.pid))) }
        if let comm = Self.evidenceString("comm", in: alert), !comm.isEmpty {
            labels.append(Label(name: "comm", value: comm))
        }
        if let peer = Self.peer(of: alert) { labels.append(Label(name: "peer", value: peer)) }
        if let job = alert.identity?.job?.description ?? Self.evidenceString("job", in: alert), !job.isEmpty {
            labels.append(Label(name: "training_job", value: job))
        }
        if let rank = alert.identity?.launcher.rank { labels.append(Label(name: "rank", value: String(rank))) }
        for label in alert.labels where !Self.reservedLabelNames.contains(label.name) && !label.value.isEmpty {
            labels.append(Label(name: label.name, value: label.value))
        }
        self.labels = labels.sorted { $0.name < $1.name }
        summary = alert.message
        description = Self.describe(alert.evidence)
        startsAtMilliseconds = clock.milliseconds(monotonicNanoseconds: alert.onset)
        resolvedAtMilliseconds = alert.state == .resolved ? clock.milliseconds(monotonicNanoseconds: alert.time) : nil
    }

    public init(labels: [Label], summary: String, description: String, startsAtMilliseconds: UInt64,
                resolvedAtMilliseconds: UInt64?) {
        self.labels = labels.sorted { $0.name < $1.name }
        self.summary = summary
        self.description = description
        self.startsAtMilliseconds = startsAtMilliseconds
        self.resolvedAtMilliseconds = resolvedAtMilliseconds
    }

    /// The label set as text: the alert's identity in Alertmanager.
    var identity: String {
        var text = ""
        for label in labels {
            text += label.name
            text += "\u{0}"
            text += label.value
            text += "\u{0}"
        }
        return text
    }

    /// The remote address the alert is about: the subject's `peer`, else
    /// its `daddr` (a connection).
    private static func peer(of alert: Alert) -> String? {
        if let peer = evidenceString("peer", in: alert), !peer.isEmpty { return peer }
        if let address = evidenceString("daddr", in: alert), !address.isEmpty { return address }
        return nil
    }

    private static func evidenceString(_ name: String, in alert: Alert) -> String? {
        for field in alert.evidence where field.name == name {
            if case .string(let text) = field.value { return text }
        }
        return nil
    }

    /// "name=value, name=value" in the subject's field order.
    static func describe(_ evidence: [(name: String, value: Value)]) -> String {
        var parts: [String] = []
        for (name, value) in evidence {
            switch value {
            case .number(let number):
                var writer = JSONLineWriter(capacity: 32)
                writer.appendNumber(number)
                parts.append(name + "=" + String(decoding: writer.bytes, as: UTF8.self))
            case .string(let text): parts.append(name + "=" + text)
            case .boolean(let flag): parts.append(name + "=" + (flag ? "true" : "false"))
            case .missing: continue
            }
        }
        return parts.joined(separator: ", ")
    }
}

/// The body of `POST /api/v2/alerts`: a JSON array of postable alerts.
/// A firing alert's `endsAt` is a time in the near future that the agent
/// keeps pushing back by re-sending (Alertmanager resolves it by timeout if
/// the agent dies); a resolved one's is its resolution time.
enum AlertsPayload {
    static func encode(_ alerts: [(alert: AlertmanagerAlert, endsAtMilliseconds: UInt64)]) -> [UInt8] {
        var writer = JSONLineWriter(capacity: 512 * max(alerts.count, 1))
        writer.beginArray()
        for (alert, endsAt) in alerts {
            writer.beginArrayObject()
            writer.key("labels")
            writer.beginNestedObject()
            for label in alert.labels { writer.field(label.name, label.value) }
            writer.endNestedObject()
            writer.key("annotations")
            writer.beginNestedObject()
            writer.field("summary" as StaticString, alert.summary)
            writer.field("description" as StaticString, alert.description)
            writer.endNestedObject()
            writer.field("startsAt" as StaticString, rfc3339(milliseconds: alert.startsAtMilliseconds))
            writer.field("endsAt" as StaticString, rfc3339(milliseconds: endsAt))
            writer.endNestedObject()
        }
        writer.endArray()
        return writer.bytes
    }

    /// "2024-03-09T16:00:01.000Z": UTC, millisecond precision.
    static func rfc3339(milliseconds: UInt64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return digits(parts.tm_year + 1900, 4) + "-" + digits(parts.tm_mon + 1, 2) + "-" + digits(parts.tm_mday, 2)
            + "T" + digits(parts.tm_hour, 2) + ":" + digits(parts.tm_min, 2) + ":" + digits(parts.tm_sec, 2)
            + "." + digits(Int32(milliseconds % 1000), 3) + "Z"
    }
}
