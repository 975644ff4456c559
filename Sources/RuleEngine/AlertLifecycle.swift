/// The life of one alert, per (rule, entity): inactive → pending → firing
/// → resolved (inactive again). It fires once while it stays firing.
struct AlertLifecycle {
    enum Phase: Equatable { case inactive, pending, firing }
    enum Transition: Equatable { case firing, resolved }

    private(set) var phase = Phase.inactive
    /// When the condition started to hold (the onset).
    private(set) var pendingSince: UInt64 = 0
    private(set) var firingSince: UInt64 = 0
    private var lastHeld: UInt64 = 0

    /// Folds one evaluation in; returns the line-worthy transition, if any.
    /// `for` is how long the condition must hold before firing;
    /// `keepFiring` how long a firing alert outlives its condition.
    mutating func update(holds: Bool, at time: UInt64, for hold: UInt64, keepFiring: UInt64) -> Transition? {
        // Evaluations may come slightly out of time order (records from
        // different CPUs): an earlier time counts as no time elapsed.
        if holds {
            lastHeld = max(lastHeld, time)
            switch phase {
            case .inactive:
                pendingSince = time
                phase = .pending
                return fireIfDue(at: time, hold: hold)
            case .pending:
                return fireIfDue(at: time, hold: hold)
            case .firing:
                return nil
            }
        }
        switch phase {
        case .inactive:
            return nil
        case .pending:
            phase = .inactive
            return nil
        case .firing:
            guard elapsed(since: lastHeld, at: time) >= keepFiring else { return nil }
            phase = .inactive
            return .resolved
        }
    }

    private func elapsed(since start: UInt64, at time: UInt64) -> UInt64 {
        time > start ? time - start : 0
    }

    private mutating func fireIfDue(at time: UInt64, hold: UInt64) -> Transition? {
        guard elapsed(since: pendingSince, at: time) >= hold else { return nil }
        phase = .firing
        firingSince = time
        return .firing
    }
}
