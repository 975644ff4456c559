import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Keeps libbpf's messages instead of letting it print: code below the CLI
/// never writes to the terminal, and a load error carries the verifier's
/// words in the thrown error.
enum LibBPFLog {
    /// The most recent messages, oldest first; bounded.
    nonisolated(unsafe) private static var lines: [String] = []
    private static let maximumLines = 40

    static func install() {
        _ = libbpf_set_print { level, format, arguments in
            guard level != LIBBPF_DEBUG, let format, let arguments else { return 0 }
            var buffer = [CChar](repeating: 0, count: 1024)
            _ = vsnprintf(&buffer, buffer.count, format, arguments)
            let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                .trimmingTrailingNewlines()
            LibBPFLog.append(line)
            return 0
        }
    }

    private static func append(_ line: String) {
        lines.append(line)
        if lines.count > maximumLines { lines.removeFirst(lines.count - maximumLines) }
    }

    /// Returns and forgets what libbpf said since the last call.
    static func take() -> String {
        defer { lines.removeAll(keepingCapacity: true) }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while text.last == "\n" { text = text.dropLast() }
        return String(text)
    }
}
