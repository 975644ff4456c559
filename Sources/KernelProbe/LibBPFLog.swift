import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Keeps libbpf's messages instead of letting it print: code below the CLI
/// never writes to the terminal, and a load error carries the verifier's
/// words in the thrown error.
enum LibBPFLog {
    /// The most recent lines, oldest first; bounded, so a verifier log of
    /// any length keeps its end, where the verifier says why.
    nonisolated(unsafe) private static var lines: [String] = []
    private static let maximumLines = 80

    static func install() {
        _ = libbpf_set_print { level, format, arguments in
            guard level != LIBBPF_DEBUG, let format, let arguments else { return 0 }
            let length = Int(ark_formatted_length(format, arguments))
            guard length > 0 else { return 0 }
            let text = String(unsafeUninitializedCapacity: length + 1) { buffer in
                buffer.withMemoryRebound(to: CChar.self) { characters in
                    _ = vsnprintf(characters.baseAddress, length + 1, format, arguments)
                }
                return length
            }
            LibBPFLog.append(text)
            return 0
        }
    }

    private static func append(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            lines.append(String(line))
        }
        if lines.count > maximumLines { lines.removeFirst(lines.count - maximumLines) }
    }

    /// Returns and forgets what libbpf said since the last call.
    static func take() -> String {
        defer { lines.removeAll(keepingCapacity: false) }
        return lines.joined(separator: "\n")
    }
}

/// What a failed load's log says: which program the kernel refused, and the
/// verifier's last words on it.
struct VerifierLog {
    /// The program libbpf names as failed, if any.
    let failedProgram: String?
    /// The last lines of the verifier's log for it (its reason comes last),
    /// or libbpf's own error lines when the verifier said nothing.
    let finalLines: [String]

    static let shownLines = 6

    init(_ log: String) {
        let lines = log.split(separator: "\n").map(String.init)
        var program: String? = nil
        for line in lines {
            guard let name = Self.programName(in: line) else { continue }
            if line.contains("failed") { program = name }
        }
        failedProgram = program
        var body: [String] = []
        if let end = lines.lastIndex(where: { $0.contains("-- END PROG LOAD LOG --") }) {
            let begin = lines[..<end].lastIndex(where: { $0.contains("-- BEGIN PROG LOAD LOG --") }).map { $0 + 1 } ?? 0
            body = Array(lines[begin..<end])
        }
        if body.isEmpty {
            body = lines.filter { $0.hasPrefix("libbpf: ") && !$0.contains("failed to load object") }
        }
        finalLines = body.suffix(Self.shownLines).map { $0.trimmingSpaces() }
    }

    /// "libbpf: prog 'NAME': ..." -> NAME.
    private static func programName(in line: String) -> String? {
        guard let start = line.firstRange(of: "prog '")?.upperBound,
              let end = line[start...].firstIndex(of: "'"), end > start else { return nil }
        return String(line[start..<end])
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        return String(text)
    }
}
