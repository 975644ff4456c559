import ProbeEvents

/// Time lost to the network: spells during which a connection had data
/// out, waited on loss recovery and made no forward progress.
///
/// A spell is dated from kernel facts carried by the events:
/// - it begins when the lost data should have been acknowledged: one RTO
///   before an RTO retransmission (the timer ran that long without any
///   progress) and one smoothed RTT before a fast retransmission (duplicate
///   ACKs took that long to show the loss); a SYN waits one RTO (1 s).
///   Tail-loss probes and other retransmissions do not start one: if the
///   tail was lost, the RTO that follows does;
/// - it ends when the socket leaves Loss or Recovery (the congestion-state
///   hook, kernels with tcp_cong_state_set), or, without that hook, once
///   the retransmit timer would have fired again and did not: the last
///   retransmission was then acknowledged, one smoothed RTT after it left.
struct BlockedSpell: Sendable, Equatable {
    var start: UInt64
    var end: UInt64
}

/// A connection's spell bookkeeping.
struct ConnectionBlocking: Sendable {
    /// Start of the spell in progress, if any.
    private(set) var since: UInt64?
    private var lastRetransmit: UInt64 = 0
    private var nextTimerNanoseconds: UInt64 = 0
    private var smoothedRTT: UInt64 = 0
    /// End of the last spell: a new one never reaches back before it.
    private var lastEnd: UInt64 = 0
    /// TCP_RTO_MIN.
    static let minimumRTONanoseconds: UInt64 = 200_000_000

    /// Folds in a retransmission; true if it opened a spell.
    @discardableResult
    mutating func retransmit(_ event: ProbeEvent, at now: UInt64) -> Bool {
        let rto = UInt64(event.retransmitTimeoutMicroseconds) * 1000
        // Unknown (a trace recorded before rto_us): the kernel's floor, so
        // that a spell still ends when the timer stays quiet.
        let timer = max(rto, Self.minimumRTONanoseconds)
        smoothedRTT = UInt64(event.smoothedRTTMicroseconds) * 1000
        lastRetransmit = now
        let lookBack: UInt64
        switch event.cause {
        case .rto, .syn, .synAck:
            lookBack = rto
            // The timer fires next after twice this wait (icsk_backoff is
            // raised after the tracepoint).
            nextTimerNanoseconds = timer << UInt64(min(event.backoff + 1, 16))
        case .fastRetransmit:
            lookBack = smoothedRTT
            nextTimerNanoseconds = timer << UInt64(min(event.backoff, 16))
        case .tailLossProbe, .other, .unknown:
            return false
        }
        guard since == nil else { return false }
        since = max(now > lookBack ? now - lookBack : 0, lastEnd)
        return true
    }

    /// Folds in a congestion-state change; returns the end of a spell it closes.
    mutating func congestionState(_ state: CongestionState, at now: UInt64) -> UInt64? {
        guard since != nil, state != .loss, state != .recovery else { return nil }
        return close(at: now)
    }

    /// Without news: ends a spell whose retransmit timer would have fired
    /// again by `now` (with a grace of one RTT and 100 ms for scheduling).
    mutating func inferProgress(at now: UInt64) -> UInt64? {
        guard since != nil else { return nil }
        let deadline = lastRetransmit + nextTimerNanoseconds + smoothedRTT + 100_000_000
        guard now > deadline else { return nil }
        return close(at: lastRetransmit + smoothedRTT)
    }

    /// Ends the spell in progress at `time` (the connection went away).
    mutating func close(at time: UInt64) -> UInt64? {
        guard let start = since else { return nil }
        let end = max(time, start)
        since = nil
        lastEnd = end
        return end
    }
}

/// Blocked time of an edge: the union of its connections' spells, so a
/// process waiting on two stalled connections at once loses that time once.
struct EdgeBlocking: Sendable {
    /// Connections in a spell now.
    private var blocked: Set<UInt64> = []
    /// Start of the union's spell in progress.
    private(set) var since: UInt64?
    /// Ended spells that may still reach into the window, oldest first.
    private var spells: [BlockedSpell] = []
    private static let maximumSpells = 64

    /// Idempotent: said again for an edge that came back mid-spell.
    mutating func connection(_ key: UInt64, blockedSince start: UInt64) {
        guard blocked.insert(key).inserted else { return }
        if let current = since {
            since = min(current, max(start, spells.last?.end ?? 0))
        } else if let last = spells.last, start <= last.end {
            // Reaches back into the previous spell: they are one.
            since = last.start
            spells.removeLast()
        } else {
            since = start
        }
    }

    mutating func connection(_ key: UInt64, unblockedAt end: UInt64) {
        guard blocked.remove(key) != nil, blocked.isEmpty, let start = since else { return }
        since = nil
        spells.append(BlockedSpell(start: start, end: max(end, start)))
        if spells.count > Self.maximumSpells { spells.removeFirst(spells.count - Self.maximumSpells) }
    }

    /// Nanoseconds blocked within `[time - window, time]`.
    func blockedNanoseconds(at time: UInt64, window: UInt64) -> UInt64 {
        let from = time > window ? time - window : 0
        var total: UInt64 = 0
        for spell in spells where spell.end > from && spell.start < time {
            total += min(spell.end, time) - max(spell.start, from)
        }
        if let since, time > since { total += time - max(since, from) }
        return min(total, window)
    }

    /// How long the spell in progress has lasted; 0 when not blocked.
    func blockedFor(at time: UInt64) -> UInt64 {
        guard let since, time > since else { return 0 }
        return time - since
    }
}
