import ProbeEvents

/// Time lost to the network: spells during which a connection had data
/// out, waited on loss recovery and made no forward progress.
///
/// A spell is dated from kernel facts carried by the events:
/// - an RTO retransmission: the timer ran one (backed-off) RTO without any
///   progress, so the spell began that long before it (a SYN: 1 s, doubling). It lasts
///   while the socket is in Loss: leaving Loss means the retransmission was
///   acknowledged. Without the congestion-state hook, it ends once the
///   retransmit timer would have fired again and did not: the last
///   retransmission was then acknowledged, one smoothed RTT after it left;
/// - a fast retransmission: duplicate ACKs took one smoothed RTT to show the
///   loss and the repair takes one more, so the spell is the RTT either
///   side of it (shorter if the socket leaves Recovery sooner). Recovery
///   itself is not a stall: new data keeps flowing at a reduced rate;
/// - tail-loss probes and other retransmissions start none: if the tail
///   was lost, the RTO that follows does. An RTO that fires one RTO after
///   a probe (its timer was armed by the probe and no ACK moved it) reaches
///   back to the probe's own wait: 2 × srtt, plus 200 ms with one packet in
///   flight or 2 jiffies with more, and never more than one RTO.
struct BlockedSpell: Sendable, Equatable {
    var start: UInt64
    var end: UInt64

    /// How long a spell in progress since `since` has lasted at `time`; 0 when there is none.
    static func lasted(since: UInt64?, at time: UInt64) -> UInt64 {
        guard let since, time > since else { return 0 }
        return time - since
    }
}

/// A connection's spell bookkeeping.
struct ConnectionBlocking: Sendable {
    /// Start of the spell in progress, if any.
    private(set) var since: UInt64?
    /// The end of a fast-retransmit spell; nil in an RTO spell.
    private var repairedBy: UInt64?
    private var lastRetransmit: UInt64 = 0
    private var nextTimerNanoseconds: UInt64 = 0
    private var smoothedRTT: UInt64 = 0
    /// End of the last spell: a new one never reaches back before it.
    private var lastEnd: UInt64 = 0
    /// The last tail-loss probe: when it left and when its wait began.
    private var probe: (sent: UInt64, waitedSince: UInt64)?
    private var lastSecond = BlockedWindow(seconds: 1)
    /// TCP_RTO_MIN.
    static let minimumRTONanoseconds: UInt64 = 200_000_000
    /// Timers run on jiffies (4 ms at HZ=250) and a little late.
    static let timerSlackNanoseconds: UInt64 = 20_000_000

    /// Folds in a retransmission; true if it opened a spell or moved its
    /// start back (an RTO in what looked like a fast repair).
    @discardableResult
    mutating func retransmit(_ event: ProbeEvent, at now: UInt64) -> Bool {
        let rto = UInt64(event.retransmitTimeoutMicroseconds) * 1000
        // Unknown (a trace recorded before rto_us): the kernel's floor, so
        // that a spell still ends when the timer stays quiet.
        let timer = max(rto, Self.minimumRTONanoseconds)
        smoothedRTT = UInt64(event.smoothedRTTMicroseconds) * 1000
        switch event.cause {
        case .rto, .syn, .synAck:
            lastRetransmit = now
            // The tracepoint reports the base RTO and icsk_backoff before
            // the kernel raises it: the wait that just ended was RTO << backoff
            // and the next is twice that.
            let waited = rto << UInt64(min(event.backoff, 16))
            nextTimerNanoseconds = timer << UInt64(min(event.backoff + 1, 16))
            var start = now > waited ? now - waited : 0
            if let probe, probe.sent <= now, now - probe.sent <= waited + Self.timerSlackNanoseconds {
                start = min(start, probe.waitedSince)
            }
            probe = nil
            start = max(start, lastEnd)
            let moved = since.map { start < $0 } ?? true
            since = min(since ?? start, start)
            repairedBy = nil
            return moved
        case .fastRetransmit:
            lastRetransmit = now
            if since == nil {
                since = max(now > smoothedRTT ? now - smoothedRTT : 0, lastEnd)
                repairedBy = now + smoothedRTT
                return true
            }
            // In an RTO spell, a fast retransmission means the socket left
            // Loss for Recovery (kernels without the congestion hook say
            // nothing else): the spell ends one RTT on, as a repair does.
            repairedBy = max(repairedBy ?? 0, now + smoothedRTT)
            return false
        case .tailLossProbe:
            // tcp_schedule_loss_probe(). With packets in flight unknown (a
            // trace recorded before packets_out), the shorter wait.
            let extra = event.packetsOut == 1 ? Self.minimumRTONanoseconds : Self.timerSlackNanoseconds / 2
            let wait = min(2 * smoothedRTT + extra, rto)
            probe = (now, now > wait ? now - wait : 0)
            return false
        case .other, .unknown:
            return false
        }
    }

    /// Folds in a congestion-state change; returns the end of a spell it closes.
    mutating func congestionState(_ state: CongestionState, at now: UInt64) -> UInt64? {
        guard since != nil, state != .loss else { return nil }
        if let end = repairedBy {
            return state == .recovery ? nil : close(at: min(now, end))
        }
        return close(at: now)
    }

    /// Without news: ends a fast-retransmit spell once repaired, and an RTO
    /// spell whose retransmit timer would have fired again by `now`, with a
    /// grace of an eighth of that wait (the kernel's RTO is in jiffies and
    /// a little larger than srtt + rttvar: 12 ms more, 16 times over at
    /// backoff 4, was seen), one RTT and 100 ms for scheduling.
    mutating func inferProgress(at now: UInt64) -> UInt64? {
        guard since != nil else { return nil }
        if let end = repairedBy {
            return now >= end ? close(at: end) : nil
        }
        let deadline = lastRetransmit + nextTimerNanoseconds + nextTimerNanoseconds / 8 + smoothedRTT + 100_000_000
        guard now > deadline else { return nil }
        return close(at: lastRetransmit + smoothedRTT)
    }

    /// Ends the spell in progress at `time` (the connection went away).
    mutating func close(at time: UInt64) -> UInt64? {
        guard let start = since else { return nil }
        let end = max(time, start)
        since = nil
        repairedBy = nil
        lastEnd = end
        lastSecond.count(from: start, to: end)
        return end
    }

    /// Nanoseconds blocked within the last second before `time`.
    mutating func blockedInLastSecond(at time: UInt64) -> UInt64 {
        lastSecond.blocked(at: time, uncountedFrom: since)
    }

    /// How long the spell in progress has lasted; 0 when not blocked.
    func blockedFor(at time: UInt64) -> UInt64 {
        BlockedSpell.lasted(since: since, at: time)
    }
}

/// Time blocked within a sliding window, in microseconds per bucket: a
/// flow in fast recovery hundreds of times a second costs no more memory
/// than one in a single long stall.
struct BlockedWindow: Sendable {
    private var counted: SlidingWindow

    init(seconds: Double) {
        counted = SlidingWindow(seconds: seconds)
    }

    var nanoseconds: UInt64 { counted.bucketNanoseconds * UInt64(SlidingWindow.bucketCount) }

    /// Adds [from, to) to the buckets it falls in (what is older than the
    /// window is dropped by the window itself).
    mutating func count(from: UInt64, to: UInt64) {
        let bucket = counted.bucketNanoseconds
        var time = from
        while time < to {
            let boundary = (time / bucket + 1) * bucket
            let piece = min(to, boundary) - time
            counted.add(UInt32((piece + 500) / 1000), at: time)
            time += piece
        }
    }

    /// Nanoseconds blocked within the window ending at `time`, counting a
    /// spell still in progress since `uncountedFrom`.
    mutating func blocked(at time: UInt64, uncountedFrom: UInt64?) -> UInt64 {
        let window = nanoseconds
        var total = counted.total(at: time) * 1000
        if let from = uncountedFrom, time > from {
            total += time - max(from, time > window ? time - window : 0)
        }
        return min(total, window)
    }
}

/// Blocked time of an edge: the union of its connections' spells, so a
/// process waiting on two stalled connections at once loses that time once.
/// Kept over the graph's window and over the last second, which tells a
/// stall from a slowdown quickly.
struct EdgeBlocking: Sendable {
    /// Connections in a spell now.
    private var blocked = UInt64Set()
    /// The spell in progress: when it began (a spell that reached back into
    /// the previous one continues it) and from when it is not yet counted.
    private var spellStart: UInt64 = 0
    private var uncountedFrom: UInt64?
    /// The latest end of a connection that left the spell while others
    /// stayed in it: the union ends no earlier, whatever order the ends
    /// are learnt in (the graph learns several at once, in hash order).
    private var latestEnd: UInt64 = 0
    /// The last ended spell, which a new one may continue.
    private var lastSpell = BlockedSpell(start: 0, end: 0)
    private var window: BlockedWindow
    private var lastSecond = BlockedWindow(seconds: 1)

    init(windowSeconds: Double) {
        window = BlockedWindow(seconds: windowSeconds)
    }

    /// Start of the spell in progress.
    var since: UInt64? { uncountedFrom == nil ? nil : spellStart }

    /// Idempotent: said again for an edge that came back mid-spell, or
    /// when a connection's spell turned out to have begun earlier.
    mutating func connection(_ key: UInt64, blockedSince start: UInt64) {
        blocked.insert(key)
        let continuesLast = lastSpell.end > 0 && start <= lastSpell.end
        if let from = uncountedFrom {
            // Another connection whose spell began earlier: the union grows back.
            guard start < from else { return }
            uncountedFrom = continuesLast ? min(from, lastSpell.end) : start
            spellStart = continuesLast ? lastSpell.start : min(spellStart, start)
        } else {
            uncountedFrom = continuesLast ? lastSpell.end : start
            spellStart = continuesLast ? lastSpell.start : start
        }
    }

    /// Returns the nanoseconds this adds to the edge's blocked time.
    @discardableResult
    mutating func connection(_ key: UInt64, unblockedAt end: UInt64) -> UInt64 {
        guard blocked.remove(key), let from = uncountedFrom else { return 0 }
        guard blocked.isEmpty else {
            latestEnd = max(latestEnd, end)
            return 0
        }
        uncountedFrom = nil
        let spellEnd = max(end, from, latestEnd)
        latestEnd = 0
        window.count(from: from, to: spellEnd)
        lastSecond.count(from: from, to: spellEnd)
        lastSpell = BlockedSpell(start: spellStart, end: spellEnd)
        return spellEnd - from
    }

    /// Nanoseconds blocked within the graph's window ending at `time`.
    mutating func blockedNanoseconds(at time: UInt64) -> UInt64 {
        window.blocked(at: time, uncountedFrom: uncountedFrom)
    }

    /// Nanoseconds blocked within the last second before `time`.
    mutating func blockedInLastSecond(at time: UInt64) -> UInt64 {
        lastSecond.blocked(at: time, uncountedFrom: uncountedFrom)
    }

    /// How long the spell in progress has lasted; 0 when not blocked.
    func blockedFor(at time: UInt64) -> UInt64 {
        BlockedSpell.lasted(since: since, at: time)
    }
}
