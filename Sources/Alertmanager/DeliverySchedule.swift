/// A FIFO of fixed capacity that drops its oldest element when full: the
/// agent's thread never waits for a slow sender, and never grows without
/// bound.
struct BoundedQueue<Element> {
    let capacity: Int
    private var storage: [Element] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    /// Appends; returns how many old elements were dropped to make room.
    mutating func append(_ element: Element) -> Int {
        var dropped = 0
        if count == capacity {
            head += 1
            dropped = 1
        }
        storage.append(element)
        // Compact once the dead prefix is as large as the live part.
        if head > 0 && head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        return dropped
    }

    mutating func removeAll() -> [Element] {
        let elements = Array(storage[head...])
        storage.removeAll(keepingCapacity: true)
        head = 0
        return elements
    }
}

/// Exponential back-off between failed attempts: `initial`, doubled after
/// each further failure, capped at `maximum`.
public struct Backoff: Equatable, Sendable {
    public var initialSeconds: Double
    public var maximumSeconds: Double

    public init(initialSeconds: Double = 0.5, maximumSeconds: Double = 30) {
        self.initialSeconds = initialSeconds
        self.maximumSeconds = maximumSeconds
    }

    /// The wait after `failures` consecutive failures (1, 2, ...), in ns.
    public func delayNanoseconds(afterFailures failures: Int) -> UInt64 {
        var seconds = initialSeconds
        var doublings = max(failures, 1) - 1
        while doublings > 0 && seconds < maximumSeconds {
            seconds *= 2
            doublings -= 1
        }
        return UInt64(min(seconds, maximumSeconds) * 1e9)
    }
}

/// What one sender has to deliver, and when: the latest state of every
/// alert (by label set) it knows of. An alert not yet delivered in its
/// current state is due at once (after a failure: once the back-off has
/// passed); a delivered firing alert is due again every resend interval,
/// so that Alertmanager does not time it out; a delivered resolved alert
/// too, until `resolvedResend` has passed, so that no peer misses it.
/// No threads and no clock of its own: times are passed in (monotonic ns).
struct DeliverySchedule {
    struct Entry {
        var alert: AlertmanagerAlert
        var delivered = false
        var nextResend: UInt64 = 0
        /// Resolved: when re-sending stops.
        var forgetAt: UInt64?
        /// Insertion order: batches and evictions go oldest first.
        var sequence: UInt64
    }

    let resendInterval: UInt64
    let resolvedResend: UInt64
    let capacity: Int
    let backoff: Backoff
    private(set) var entries: [String: Entry] = [:]
    private(set) var consecutiveFailures = 0
    private(set) var retryAt: UInt64 = 0
    private var nextSequence: UInt64 = 0

    init(resendInterval: UInt64, resolvedResend: UInt64, capacity: Int, backoff: Backoff) {
        self.resendInterval = resendInterval
        self.resolvedResend = resolvedResend
        self.capacity = max(capacity, 1)
        self.backoff = backoff
    }

    var undeliveredCount: Int { entries.values.count(where: { !$0.delivered }) }

    /// Takes the latest state of an alert; returns how many other alerts
    /// were forgotten to stay within capacity.
    mutating func add(_ alert: AlertmanagerAlert, now: UInt64) -> Int {
        let key = alert.identity
        let forgetAt = alert.resolvedAtMilliseconds == nil ? nil : now + resolvedResend
        if var entry = entries[key] {
            entry.alert = alert
            entry.delivered = false
            entry.forgetAt = forgetAt
            entries[key] = entry
            return 0
        }
        var evicted = 0
        if entries.count >= capacity {
            // Least useful first: an old resolved alert already delivered,
            // else the oldest.
            let victim = entries.filter { $0.value.delivered && $0.value.forgetAt != nil }.min { $0.value.sequence < $1.value.sequence }
                ?? entries.min { $0.value.sequence < $1.value.sequence }
            if let victim {
                entries[victim.key] = nil
                evicted = 1
            }
        }
        entries[key] = Entry(alert: alert, forgetAt: forgetAt, sequence: nextSequence)
        nextSequence += 1
        return evicted
    }

    /// Keys of the alerts to send now, oldest first. `onlyUndelivered`
    /// when stopping: re-sends can wait for the next run.
    func due(now: UInt64, onlyUndelivered: Bool = false) -> [String] {
        guard consecutiveFailures == 0 || now >= retryAt else { return [] }
        return entries.filter { !$0.value.delivered || (!onlyUndelivered && now >= $0.value.nextResend) }
            .sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
    }

    func alert(_ key: String) -> AlertmanagerAlert? { entries[key]?.alert }

    /// Alertmanager took these (or refused them for good: a 4xx).
    mutating func delivered(_ keys: [String], now: UInt64) {
        consecutiveFailures = 0
        retryAt = 0
        for key in keys {
            guard var entry = entries[key] else { continue }
            entry.delivered = true
            entry.nextResend = now + resendInterval
            entries[key] = entry
        }
        forgetExpired(now: now)
    }

    /// A failed attempt: returns the wait before the next one (ns).
    @discardableResult
    mutating func failed(now: UInt64) -> UInt64 {
        consecutiveFailures += 1
        let delay = backoff.delayNanoseconds(afterFailures: consecutiveFailures)
        retryAt = now + delay
        return delay
    }

    /// Try again at once (stopping: there is no time left to wait).
    mutating func retryNow() {
        retryAt = 0
    }

    /// Resolved alerts delivered and re-sent long enough are forgotten.
    mutating func forgetExpired(now: UInt64) {
        entries = entries.filter { !($0.value.delivered && ($0.value.forgetAt.map { now >= $0 } ?? false)) }
    }

    /// When something will next be due (or expire); nil: nothing tracked.
    func nextWake() -> UInt64? {
        var wake: UInt64?
        for entry in entries.values {
            var time = entry.delivered ? entry.nextResend : 0
            if entry.delivered, let forgetAt = entry.forgetAt { time = min(time, forgetAt) }
            wake = min(wake ?? time, time)
        }
        if let soonest = wake, consecutiveFailures > 0 { return max(soonest, retryAt) }
        return wake
    }
}
