import RuleEngine

/// An alert the rules gave on a test's input, timed from the test start.
public struct ObservedAlert: Sendable {
    /// Nanoseconds from the test start (negative only for an event
    /// slightly out of order before the first one).
    public let time: Int64
    public let alert: Alert

    public init(time: Int64, alert: Alert) {
        self.time = time
        self.alert = alert
    }

    var isFiring: Bool { alert.state == .firing }

    /// The rule and entity: one alert's lifecycle.
    var key: String { alert.rule + "\u{0}" + alert.entity.description }
}
