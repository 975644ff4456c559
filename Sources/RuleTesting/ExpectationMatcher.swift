import RuleEngine
import RuleLanguage

/// Whether an expectation holds for a test's alerts.
public struct ExpectationOutcome: Sendable {
    public let expectation: Expectation
    public let isMet: Bool
    /// The alert that meets it (firing, resolved) or those that break it
    /// (silent), as indices into the test's alerts.
    public let alerts: [Int]
    /// Why it is not met: the alerts that came closest, each with what
    /// differs, or that none came near.
    public let reasons: [String]
}

/// Checks expectations against the alerts of one test, in time order.
/// Windows include both their edges.
struct ExpectationMatcher {
    /// Reasons shown per unmet expectation; the alert list shows the rest.
    static let shownReasons = 5

    let alerts: [ObservedAlert]
    /// For each alert, the next transition of the same rule and entity.
    private let nextTransitions: [Int?]

    init(alerts: [ObservedAlert]) {
        self.alerts = alerts
        var next = [Int?](repeating: nil, count: alerts.count)
        var later: [String: Int] = [:]
        for index in alerts.indices.reversed() {
            next[index] = later[alerts[index].key]
            later[alerts[index].key] = index
        }
        nextTransitions = next
    }

    func check(_ expectation: Expectation) -> ExpectationOutcome {
        let concerned = alerts.indices.filter { concerns(expectation, alerts[$0].alert) }
        switch expectation.kind {
        case .firing, .resolved: return checkTransition(expectation, among: concerned)
        case .silent: return checkSilence(expectation, among: concerned)
        }
    }

    /// The rule, entity and pid select the alerts an expectation is about.
    private func concerns(_ expectation: Expectation, _ alert: Alert) -> Bool {
        (expectation.rule.map { $0 == alert.rule } ?? true)
            && (expectation.entity.map { $0 == alert.entity.description } ?? true)
            && (expectation.pid.map { $0 == alert.pid } ?? true)
    }

    private func checkTransition(_ expectation: Expectation, among concerned: [Int]) -> ExpectationOutcome {
        let state: Alert.State = expectation.kind == .firing ? .firing : .resolved
        var reasons: [String] = []
        for index in concerned where alerts[index].alert.state == state {
            guard let problem = timeProblem(index, expectation.window) ?? detailProblem(alerts[index].alert, expectation) else {
                return ExpectationOutcome(expectation: expectation, isMet: true, alerts: [index], reasons: [])
            }
            reasons.append("\(shortDescription(index)): \(problem)")
        }
        if reasons.isEmpty {
            reasons.append("no alert it selects ever \(state == .firing ? "fired" : "resolved")")
        }
        return unmet(expectation, alerts: [], reasons: reasons)
    }

    private func checkSilence(_ expectation: Expectation, among concerned: [Int]) -> ExpectationOutcome {
        var breaking: [Int] = []
        var reasons: [String] = []
        for index in concerned where alerts[index].isFiring {
            let time = alerts[index].time
            switch expectation.window {
            case nil:
                reasons.append("\(shortDescription(index))")
            case .within(let from, let to) where from <= time && time <= to:
                reasons.append("\(shortDescription(index)), within \(windowText(from, to))")
            case .within(let from, _) where time < from && isActive(index, at: from):
                reasons.append("\(shortDescription(index)), still firing at +\(DurationText.text(from))")
            case .at(let moment) where time <= moment && isActive(index, at: moment):
                reasons.append("\(shortDescription(index)), still firing at +\(DurationText.text(moment))")
            default:
                continue
            }
            breaking.append(index)
        }
        guard breaking.isEmpty else { return unmet(expectation, alerts: breaking, reasons: reasons) }
        return ExpectationOutcome(expectation: expectation, isMet: true, alerts: [], reasons: [])
    }

    private func unmet(_ expectation: Expectation, alerts: [Int], reasons: [String]) -> ExpectationOutcome {
        var shown = Array(reasons.prefix(Self.shownReasons))
        if reasons.count > shown.count { shown.append("... and \(reasons.count - shown.count) more") }
        return ExpectationOutcome(expectation: expectation, isMet: false, alerts: alerts, reasons: shown)
    }

    /// What is wrong with the time of transition `index`, if anything.
    private func timeProblem(_ index: Int, _ window: TimeWindow?) -> String? {
        let time = alerts[index].time
        switch window {
        case nil:
            return nil
        case .within(let from, let to):
            if time < from { return "before the window \(windowText(from, to))" }
            if time > to { return "after the window \(windowText(from, to))" }
            return nil
        case .at(let moment):
            if time > moment { return "after \(DurationText.text(moment))" }
            guard let next = nextTransitions[index], alerts[next].time <= moment else { return nil }
            let change = alerts[next].isFiring ? "fired again" : "resolved"
            return "\(change) at +\(DurationText.text(alerts[next].time)), by \(DurationText.text(moment))"
        }
    }

    /// The first label, field, value or message that differs, if any.
    private func detailProblem(_ alert: Alert, _ expectation: Expectation) -> String? {
        for label in expectation.labels {
            guard let actual = alert.labels.first(where: { $0.name == label.name })?.value else {
                return "it has no label '\(label.name)'"
            }
            if actual != label.value { return "label \(label.name) is '\(actual)', expected '\(label.value)'" }
        }
        for field in expectation.fields {
            let actual = alert.evidence.first { $0.name == field.name }?.value ?? .missing
            if !field.condition.matches(actual) {
                return "field \(field.name) is \(valueText(actual)), expected \(field.condition)"
            }
        }
        if let value = expectation.value, !value.matches(alert.value) {
            return "value is \(valueText(alert.value)), expected \(value)"
        }
        if let message = expectation.message, !alert.message.contains(message) {
            return "message does not contain '\(message)': \"\(alert.message)\""
        }
        return nil
    }

    /// Whether firing alert `index` is still firing at `moment`.
    private func isActive(_ index: Int, at moment: Int64) -> Bool {
        guard alerts[index].isFiring, alerts[index].time <= moment else { return false }
        guard let next = nextTransitions[index] else { return true }
        return alerts[next].time > moment
    }

    private func shortDescription(_ index: Int) -> String {
        let observed = alerts[index]
        return "\(observed.alert.rule) \(observed.isFiring ? "fired" : "resolved") for \(observed.alert.entity) "
            + "at +\(DurationText.text(observed.time))"
    }
}

func windowText(_ from: Int64, _ to: Int64) -> String {
    "[\(DurationText.text(from)), \(DurationText.text(to))]"
}
