import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// epoll_wait with a timeout in nanoseconds: epoll_pwait2 (Linux 5.11+),
/// or where it is missing (ENOSYS) or filtered (EPERM: a seccomp filter of
/// a systemd older than the call, `SystemCallErrorNumber=EPERM` in our
/// unit) epoll_wait with the timeout rounded up to a millisecond.
struct EpollWait {
    private var hasNanosecondTimeouts = true

    /// Waits for `events` on `epoll` for at most `timeout` nanoseconds;
    /// returns what epoll returned (-1 with errno on failure).
    mutating func callAsFunction(_ epoll: Int32, _ events: inout [epoll_event], timeout: UInt64) -> Int32 {
        if hasNanosecondTimeouts {
            var time = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
            let count = epoll_pwait2(epoll, &events, Int32(events.count), &time, nil)
            if count >= 0 || (errno != ENOSYS && errno != EPERM) { return count }
            hasNanosecondTimeouts = false
        }
        let milliseconds = Int32(min((timeout + 999_999) / 1_000_000, UInt64(Int32.max)))
        return epoll_wait(epoll, &events, Int32(events.count), milliseconds)
    }
}
