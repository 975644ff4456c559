#if canImport(Glibc)
import Glibc
#endif

/// Converts the kernel's CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns)
/// to wall-clock milliseconds since the Unix epoch, with an offset
/// measured once when the agent starts.
public struct WallClock: Equatable, Sendable {
    /// CLOCK_REALTIME - CLOCK_MONOTONIC, in nanoseconds.
    public let offsetNanoseconds: Int64

    public init(offsetNanoseconds: Int64) {
        self.offsetNanoseconds = offsetNanoseconds
    }

    /// Measures the offset now: the realtime reading bracketed by the
    /// tightest of a few monotonic pairs, so a preemption between the two
    /// reads does not skew it.
    public static func measure() -> WallClock {
        var best: (width: Int64, offset: Int64) = (.max, 0)
        for _ in 0..<5 {
            let before = read(CLOCK_MONOTONIC)
            let realtime = read(CLOCK_REALTIME)
            let after = read(CLOCK_MONOTONIC)
            let width = after - before
            if width < best.width {
                best = (width, realtime - (before + width / 2))
            }
        }
        return WallClock(offsetNanoseconds: best.offset)
    }

    /// Milliseconds since the epoch for a monotonic kernel timestamp.
    public func milliseconds(monotonicNanoseconds: UInt64) -> UInt64 {
        let wall = Int64(bitPattern: monotonicNanoseconds) &+ offsetNanoseconds
        return wall > 0 ? UInt64(wall) / 1_000_000 : 0
    }

    /// The kernel's monotonic clock now, in nanoseconds.
    public static func monotonicNow() -> UInt64 {
        UInt64(read(CLOCK_MONOTONIC))
    }

    /// The wall clock now, in nanoseconds since the epoch.
    public static func realtimeNow() -> UInt64 {
        UInt64(max(read(CLOCK_REALTIME), 0))
    }

    private static func read(_ clock: clockid_t) -> Int64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
