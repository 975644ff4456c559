import ProbeEvents
import RuleLanguage

extension EventType {
    public static let alert: StaticString = "alert"
}

/// Writes alerts as JSONL lines in the same stream as the events: the five
/// keys of the Ark contract first (`value` is the figure that fired, as a
/// string), then state, rule, severity, message, labels, the onset and the
/// evidence (every field of the subject at the transition).
public struct AlertLineEncoder {
    public let clock: WallClock

    public init(clock: WallClock) {
        self.clock = clock
    }

    /// `identity`: the identity fields of the alert's process, after its labels.
    public func encode(_ alert: Alert, identity: [UInt8] = [], into line: inout JSONLineWriter) {
        line.beginObject()
        line.field("ts", clock.milliseconds(monotonicNanoseconds: alert.time))
        line.field("event_type", plain: EventType.alert)
        line.field("entity_id", alert.entity.description)
        line.field("pid", UInt64(alert.pid))
        line.field("value", alert.value.text)
        line.field("state", alert.state.rawValue)
        line.field("rule", alert.rule)
        line.field("severity", alert.severity.rawValue)
        line.field("message", alert.message)
        line.key("labels")
        line.beginNestedObject()
        for label in alert.labels { line.field(label.name, label.value) }
        line.endNestedObject()
        line.appendFields(identity)
        line.field("onset", clock.milliseconds(monotonicNanoseconds: alert.onset))
        line.key("evidence")
        line.beginNestedObject()
        for (name, value) in alert.evidence {
            switch value {
            case .number(let number): line.field(name, number)
            case .string(let text): line.field(name, text)
            case .boolean(let flag): line.field(name, flag)
            case .missing: continue
            }
        }
        line.endNestedObject()
        line.field("ktime_ns", alert.time)
        line.endLine()
    }
}

extension Value {
    /// The value as text for the `value` key: whole numbers without a
    /// fraction, others with at most three decimals.
    var text: String {
        switch self {
        case .number(let number):
            var writer = JSONLineWriter(capacity: 32)
            writer.appendNumber(number)
            return String(decoding: writer.bytes, as: UTF8.self)
        case .string(let text): return text
        case .boolean(let flag): return flag ? "true" : "false"
        case .missing: return ""
        }
    }
}
