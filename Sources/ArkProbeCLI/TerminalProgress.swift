import Agent
#if canImport(Glibc)
import Glibc
#endif

/// A long replay's progress on stderr, redrawn in place twice a second,
/// only when stderr is a terminal (a pipe or a file gets nothing) and only
/// once the replay has run a second (short ones say nothing).
final class TerminalProgress: @unchecked Sendable {
    private let label: String
    private let start = TerminalProgress.now()
    private var lastDraw = 0.0
    private var drawn = false

    /// nil when stderr is not a terminal.
    static func onTerminal(label: String) -> TerminalProgress? {
        isatty(STDERR_FILENO) == 1 ? TerminalProgress(label: label) : nil
    }

    private init(label: String) { self.label = label }

    func update(_ progress: ReplayProgress) {
        let now = Self.now()
        guard now - start >= 1, now - lastDraw >= 0.5 else { return }
        lastDraw = now
        drawn = true
        write("\r\u{1B}[K\(label): \(progress.text(afterSeconds: now - start))")
    }

    /// `update` as a replay's progress callback.
    var callback: @Sendable (ReplayProgress) -> Void {
        { [self] progress in update(progress) }
    }

    /// Clears the line, so the next output starts clean.
    func finish() {
        if drawn { write("\r\u{1B}[K") }
        drawn = false
    }

    private func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
