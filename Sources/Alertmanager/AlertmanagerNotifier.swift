import ProbeEvents
import RuleEngine

/// How alerts are pushed to Alertmanager. The defaults follow Prometheus:
/// re-send firing alerts every minute with `endsAt` four intervals ahead,
/// re-send resolved ones for 15 minutes.
public struct AlertmanagerOptions: Sendable {
    public var resendIntervalSeconds = 60.0
    /// A firing alert's `endsAt` is this many resend intervals ahead: if the
    /// agent dies, Alertmanager resolves its alerts by timeout.
    public var firingTimeoutIntervals = 4.0
    public var resolvedResendSeconds = 900.0
    /// Notifications waiting for the sender thread, per Alertmanager; when
    /// full the oldest is dropped.
    public var queueCapacity = 1024
    /// Alerts one sender keeps track of (firing, or resolved and still
    /// re-sent); beyond that the oldest are forgotten (counted as dropped).
    public var maximumTrackedAlerts = 10_000
    public var maximumAlertsPerPost = 500
    /// Bounds one POST: connect, send and the answer.
    public var requestTimeoutSeconds = 5.0
    public var backoff = Backoff()

    public init() {}
}

/// What happened to the notifications for one Alertmanager: a snapshot,
/// for a metrics endpoint and the exit summary.
public struct AlertmanagerCounters: Equatable, Sendable {
    public var url: AlertmanagerURL
    /// Alerts in POSTs Alertmanager accepted, re-sends included.
    public var alertsSent: UInt64 = 0
    public var postsSent: UInt64 = 0
    /// POSTs that failed: no connection, timeout, 5xx. Retried with back-off.
    public var failedAttempts: UInt64 = 0
    /// POSTs Alertmanager refused with a 4xx (not retried).
    public var rejectedPosts: UInt64 = 0
    /// Notifications lost: the queue was full, or too many alerts tracked.
    public var droppedNotifications: UInt64 = 0
    /// Alerts whose current state this Alertmanager does not have yet.
    public var pendingAlerts: UInt64 = 0

    public init(url: AlertmanagerURL) {
        self.url = url
    }
}

/// Something worth a line in the log. Reported on the sender's thread,
/// once per change (not once per retry).
public enum AlertmanagerEvent: Sendable, CustomStringConvertible {
    /// The first failure after success (or at start); retries follow.
    case failing(AlertmanagerURL, DeliveryError, pendingAlerts: Int)
    case recovered(AlertmanagerURL, failedAttempts: Int)
    /// Alertmanager refused a POST (4xx): a bug, or an invalid label.
    case rejected(AlertmanagerURL, DeliveryError, alerts: Int)
    case dropped(AlertmanagerURL, count: UInt64, total: UInt64)

    public var description: String {
        switch self {
        case .failing(let url, let error, let pending):
            "alertmanager \(url): cannot deliver (\(error)); \(pending) alert(s) kept, retrying with back-off"
        case .recovered(let url, let attempts):
            "alertmanager \(url): delivering again after \(attempts) failed attempt(s)"
        case .rejected(let url, let error, let alerts):
            "alertmanager \(url): refused \(alerts) alert(s): \(error)"
        case .dropped(let url, let count, let total):
            "alertmanager \(url): \(count) notification(s) dropped (\(total) in all): it is too slow or down for too long"
        }
    }
}

public struct AlertmanagerStartError: Error, CustomStringConvertible {
    public let errno: Int32
    public var description: String { "cannot start the Alertmanager sender thread (pthread_create error \(errno))" }
}

/// Pushes alerts to one or more Alertmanagers (every peer of a cluster,
/// as Alertmanager's HA design asks: they deduplicate among themselves).
/// `send` converts and queues, never waits on the network: each URL has
/// its own thread that batches, retries with back-off and re-sends, so a
/// down or slow peer delays nobody else.
public final class AlertmanagerNotifier: Sendable {
    public let host: String
    public let clock: WallClock
    private let senders: [AlertmanagerSender]

    /// `report` is called on the sender threads; it may log, not block long.
    public init(urls: [AlertmanagerURL], host: String, clock: WallClock, options: AlertmanagerOptions = AlertmanagerOptions(),
                report: @escaping @Sendable (AlertmanagerEvent) -> Void) throws(AlertmanagerStartError) {
        self.host = host
        self.clock = clock
        senders = urls.map { AlertmanagerSender(url: $0, options: options, report: report) }
        for sender in senders {
            let code = sender.start()
            if code != 0 { throw AlertmanagerStartError(errno: code) }
        }
    }

    public var urls: [AlertmanagerURL] { senders.map(\.url) }

    /// Queues alerts as the rules raised or resolved them (the agent's
    /// `alertObserver`).
    public func send(_ alerts: [Alert]) {
        enqueue(alerts.map { AlertmanagerAlert($0, host: host, clock: clock) })
    }

    public func enqueue(_ alerts: [AlertmanagerAlert]) {
        guard !alerts.isEmpty else { return }
        for sender in senders { sender.enqueue(alerts) }
    }

    public var counters: [AlertmanagerCounters] { senders.map { $0.counters } }

    /// Gives every sender up to `seconds` to deliver what it has not yet,
    /// then stops them (a sender still waiting on the network is abandoned).
    /// Returns the counters at that moment: `pendingAlerts` > 0 were not
    /// delivered.
    public func finish(withinSeconds seconds: Double) -> [AlertmanagerCounters] {
        let deadline = WallClock.monotonicNow() + UInt64(max(seconds, 0) * 1e9)
        for sender in senders { sender.requestStop(deadline: deadline) }
        for sender in senders { sender.waitUntilStopped(deadline: deadline) }
        return counters
    }
}

/// The notifications for one Alertmanager and the thread that sends them.
final class AlertmanagerSender: @unchecked Sendable {
    let url: AlertmanagerURL
    private let options: AlertmanagerOptions
    private let report: @Sendable (AlertmanagerEvent) -> Void
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var queue: BoundedQueue<AlertmanagerAlert>
    private var snapshot: AlertmanagerCounters
    private var stopDeadline: UInt64?
    private var stopped = false
    // The sender thread's own.
    private var schedule: DeliverySchedule
    private var reportedDrops: UInt64 = 0

    init(url: AlertmanagerURL, options: AlertmanagerOptions, report: @escaping @Sendable (AlertmanagerEvent) -> Void) {
        self.url = url
        self.options = options
        self.report = report
        queue = BoundedQueue(capacity: options.queueCapacity)
        snapshot = AlertmanagerCounters(url: url)
        schedule = DeliverySchedule(
            resendInterval: UInt64(options.resendIntervalSeconds * 1e9),
            resolvedResend: UInt64(options.resolvedResendSeconds * 1e9),
            capacity: options.maximumTrackedAlerts, backoff: options.backoff)
    }

    /// Starts the thread; 0 or pthread_create's error.
    func start() -> Int32 {
        startThread { [self] in run() }
    }

    var counters: AlertmanagerCounters { lock.withLock { snapshot } }

    func enqueue(_ alerts: [AlertmanagerAlert]) {
        lock.withLock {
            for alert in alerts {
                snapshot.droppedNotifications += UInt64(queue.append(alert))
            }
            lock.broadcast()
        }
    }

    func requestStop(deadline: UInt64) {
        lock.withLock {
            stopDeadline = deadline
            lock.broadcast()
        }
    }

    func waitUntilStopped(deadline: UInt64) {
        lock.withLock {
            while !stopped && WallClock.monotonicNow() < deadline { lock.wait(until: deadline) }
        }
    }

    private func run() {
        var wake: UInt64 = .max
        var stopSeen = false
        while true {
            var incoming: [AlertmanagerAlert] = []
            var stopDeadline: UInt64?
            var dropped: UInt64 = 0
            lock.withLock {
                // Stopping, wait only for what is due (a retry) or the deadline.
                while queue.isEmpty && (self.stopDeadline == nil || stopSeen) && WallClock.monotonicNow() < wake {
                    lock.wait(until: wake)
                }
                incoming = queue.removeAll()
                stopDeadline = self.stopDeadline
                dropped = snapshot.droppedNotifications
            }
            var now = WallClock.monotonicNow()
            var evicted = 0
            for alert in incoming { evicted += schedule.add(alert, now: now) }
            if stopDeadline != nil && !stopSeen {
                stopSeen = true
                schedule.retryNow()
            }
            dropped += UInt64(evicted)
            if dropped > reportedDrops {
                report(.dropped(url, count: dropped - reportedDrops, total: dropped))
                reportedDrops = dropped
            }
            var delta = AlertmanagerCounters(url: url)
            delta.droppedNotifications = UInt64(evicted)
            deliverDue(now: now, onlyUndelivered: stopDeadline != nil, counters: &delta)
            now = WallClock.monotonicNow()
            schedule.forgetExpired(now: now)
            let pending = UInt64(schedule.undeliveredCount)
            let finished = stopDeadline.map { pending == 0 || now >= $0 } ?? false
            lock.withLock {
                snapshot.alertsSent += delta.alertsSent
                snapshot.postsSent += delta.postsSent
                snapshot.failedAttempts += delta.failedAttempts
                snapshot.rejectedPosts += delta.rejectedPosts
                snapshot.droppedNotifications += delta.droppedNotifications
                snapshot.pendingAlerts = pending
                if finished {
                    stopped = true
                    lock.broadcast()
                }
            }
            if finished { return }
            wake = schedule.nextWake() ?? .max
            if let stopDeadline { wake = min(wake, stopDeadline) }
        }
    }

    /// Sends everything due, in POSTs of at most `maximumAlertsPerPost`;
    /// stops at the first failure (the back-off decides when to go on).
    private func deliverDue(now: UInt64, onlyUndelivered: Bool, counters: inout AlertmanagerCounters) {
        let keys = schedule.due(now: now, onlyUndelivered: onlyUndelivered)
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(start + options.maximumAlertsPerPost, keys.count)])
            start += batch.count
            let wallNow = WallClock.realtimeNow() / 1_000_000
            let firingEnd = wallNow + UInt64(options.resendIntervalSeconds * options.firingTimeoutIntervals * 1000)
            let alerts = batch.compactMap { key in
                schedule.alert(key).map { ($0, $0.resolvedAtMilliseconds ?? firingEnd) }
            }
            let body = AlertsPayload.encode(alerts)
            let hadFailed = schedule.consecutiveFailures
            do {
                _ = try HTTPPost.send(body, to: url, path: url.alertsPath,
                                      timeoutNanoseconds: UInt64(options.requestTimeoutSeconds * 1e9))
                counters.postsSent += 1
                counters.alertsSent += UInt64(alerts.count)
                schedule.delivered(batch, now: WallClock.monotonicNow())
                if hadFailed > 0 { report(.recovered(url, failedAttempts: hadFailed)) }
            } catch {
                if error.isRejection {
                    counters.rejectedPosts += 1
                    schedule.delivered(batch, now: WallClock.monotonicNow())
                    if hadFailed > 0 { report(.recovered(url, failedAttempts: hadFailed)) }
                    report(.rejected(url, error, alerts: alerts.count))
                    continue
                }
                counters.failedAttempts += 1
                schedule.failed(now: WallClock.monotonicNow())
                if hadFailed == 0 { report(.failing(url, error, pendingAlerts: schedule.undeliveredCount)) }
                return
            }
        }
    }
}
