#if canImport(Glibc)
import Glibc
#endif

/// The process's effective capabilities, read from /proc/self/status, so a
/// missing privilege is named before the kernel answers a bare EPERM.
struct Capabilities {
    enum Purpose { case probe }

    static let bpf = 39        // CAP_BPF
    static let perfmon = 38    // CAP_PERFMON
    static let sysAdmin = 21   // CAP_SYS_ADMIN: grants both on every kernel

    let effective: UInt64

    static func current() -> Capabilities {
        guard let file = fopen("/proc/self/status", "r") else { return Capabilities(effective: .max) }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if text.hasPrefix("CapEff:") {
                let hex = text.dropFirst("CapEff:".count).filter { $0.isHexDigit }
                return Capabilities(effective: UInt64(hex, radix: 16) ?? .max)
            }
        }
        return Capabilities(effective: .max)
    }

    func has(_ capability: Int) -> Bool { effective & (1 << UInt64(capability)) != 0 }

    /// Capabilities lacking for `purpose`, by name; empty when it may proceed.
    func missing(for purpose: Purpose) -> [String] {
        if has(Self.sysAdmin) { return [] }
        var names: [String] = []
        if !has(Self.bpf) { names.append("CAP_BPF") }
        if !has(Self.perfmon) { names.append("CAP_PERFMON") }
        return names
    }
}
