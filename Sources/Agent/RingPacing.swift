import CArkProbeRecords

/// When the agent reads the ring between wake-ups (the policy is in
/// bpf/ark_probe.h): after a batch it promises the programs to keep reading
/// for `linger`, and reads every `period` until that window has passed, so
/// records in between need no wake-up.
///
/// By default the period follows the rate, aiming at a few records per
/// read: at 10,000 records/s a line is out well within a millisecond, and a
/// trickle is not polled for every half millisecond. With a line delay the
/// period is that delay at any rate: fewer wake-ups for later lines. Either
/// way a burst that fills a quarter of the ring wakes the reader at once.
struct RingPacing {
    static let shortestPeriod = ARK_READER_POLL_MIN_NS
    static let longestPeriod = ARK_READER_POLL_MAX_NS
    /// The last read of a window starts at most this long before its end:
    /// a record stamped earlier than the programs' margin before the end,
    /// and committed within the other half, is read.
    static let lastReadMargin = ARK_WAKEUP_MARGIN_NS / 2
    /// Records per read the adaptive period aims at.
    static let fewestPerRead = 4
    static let mostPerRead = 8

    /// The fixed period, or nil: the period follows the rate.
    let lineDelay: UInt64?
    /// How long a window lasts after a read that found records: longer
    /// than the period, so that a steady flow never wakes the reader.
    let linger: UInt64
    private(set) var period: UInt64

    /// `lineDelay`: nanoseconds, at least `shortestPeriod`; nil: adaptive.
    init(lineDelay: UInt64? = nil) {
        self.lineDelay = lineDelay
        period = lineDelay ?? Self.shortestPeriod
        linger = max(ARK_READER_LINGER_NS, 2 * (lineDelay ?? 0))
    }

    /// After a read that started at `start` (CLOCK_MONOTONIC ns) and found
    /// `samples`, with the window the programs see ending at `readsUntil`:
    /// the window to promise now, and when to read next (nil: the window
    /// has passed, wait for a wake-up).
    mutating func afterRead(samples: Int, startedAt start: UInt64, readsUntil: UInt64)
        -> (readsUntil: UInt64, nextRead: UInt64?) {
        let window = samples > 0 ? max(readsUntil, start + linger) : readsUntil
        if lineDelay == nil {
            if samples > Self.mostPerRead {
                period = max(period / 2, Self.shortestPeriod)
            } else if samples < Self.fewestPerRead {
                period = min(period * 2, Self.longestPeriod)
            }
        }
        guard start + Self.lastReadMargin < window else { return (window, nil) }
        return (window, start + period)
    }
}
