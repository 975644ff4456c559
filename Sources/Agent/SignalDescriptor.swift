import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Delivers signals through a descriptor (signalfd) so the run loop sees
/// them between batches instead of in an async handler.
final class SignalDescriptor {
    let descriptor: Int32
    private var mask = sigset_t()

    init(signals: [Int32]) throws(AgentError) {
        sigemptyset(&mask)
        for signal in signals { sigaddset(&mask, signal) }
        guard pthread_sigmask(SIG_BLOCK, &mask, nil) == 0 else {
            throw .system(call: "pthread_sigmask", errno: errno)
        }
        descriptor = signalfd(-1, &mask, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard descriptor >= 0 else { throw .system(call: "signalfd", errno: errno) }
    }

    deinit {
        close(descriptor)
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    }

    /// The first signal waiting, if any.
    func pending() -> Int32? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        guard read(descriptor, &info, size) == size else { return nil }
        return Int32(info.ssi_signo)
    }
}
