extension Expectation {
    /// What the expectation asks, in words: "workload-stalled fires for
    /// pid 1024 within [0s, 2s], with field rtos >= 2".
    public var summary: String {
        var subject = rule ?? "any rule"
        if let pid { subject += " for pid \(pid)" }
        if let entity { subject += (pid == nil ? " for " : " and ") + entity }
        var text: String
        switch (kind, window) {
        case (.firing, .at(let moment)?): text = "\(subject) is firing at \(DurationText.text(moment))"
        case (.firing, .within(let from, let to)?): text = "\(subject) fires within \(windowText(from, to))"
        case (.firing, nil): text = "\(subject) fires"
        case (.resolved, .at(let moment)?): text = "\(subject) is resolved at \(DurationText.text(moment))"
        case (.resolved, .within(let from, let to)?): text = "\(subject) resolves within \(windowText(from, to))"
        case (.resolved, nil): text = "\(subject) resolves"
        case (.silent, .at(let moment)?): text = "\(subject) is not firing at \(DurationText.text(moment))"
        case (.silent, .within(let from, let to)?): text = "\(subject) stays silent within \(windowText(from, to))"
        case (.silent, nil): text = "\(subject) never fires"
        }
        var details = labels.map { "label \($0.name)=\($0.value)" }
        details += fields.map { "field \($0.name) \(conditionText($0.condition))" }
        if let value { details.append("value \(conditionText(value))") }
        if let message { details.append("message containing '\(message)'") }
        if !details.isEmpty { text += ", with " + details.joined(separator: ", ") }
        return text
    }
}

/// "= 10.0.0.2" for an equality written as a bare value, else as written.
private func conditionText(_ condition: ValueCondition) -> String {
    condition.written.hasPrefix(condition.comparison.rawValue) ? condition.written : "= " + condition.written
}

extension ObservedAlert {
    /// One line: "+2.5s firing workload-stalled network-pid-1024 value=3 "message"".
    public var summary: String {
        "+\(DurationText.text(time)) \(alert.state.rawValue) \(alert.rule) \(alert.entity) "
            + "value=\(valueText(alert.value)) \"\(alert.message)\""
    }
}
