#if canImport(Glibc)
import Glibc
#endif

/// Why the probe could not be loaded, attached or read, each with what the
/// user can do about it.
public enum ProbeError: Error, Equatable, CustomStringConvertible {
    /// The kernel refused a BPF operation for lack of privilege.
    case permissionDenied(operation: String)
    /// The process lacks capabilities the probe needs (names, e.g. CAP_BPF).
    case missingCapabilities([String])
    /// This way of attaching a hook does not exist on this kernel.
    case hookUnavailable(hook: String, reason: String)
    /// The kernel exposes no BTF, which CO-RE and tp_btf require.
    case btfUnavailable(path: String)
    /// No way of attaching a required hook worked: every attempt and its error.
    case attachFailed(hook: String, attempts: [AttachAttempt])
    /// The embedded object or a program in it failed to load.
    case loadFailed(detail: String, errno: Int32, log: String)
    /// A system or libbpf call failed.
    case system(call: String, errno: Int32)
    /// An option has a value the probe cannot use.
    case invalidConfiguration(String)
    /// The child process that loads the probe (`LoadingProcess`) gave no
    /// usable answer: a crash or a bug, not the kernel's refusal.
    case loadingProcessFailed(String)

    public var description: String {
        switch self {
        case .permissionDenied(let operation):
            return "\(operation): permission denied. Run ark-probe as root, or grant it "
                + "CAP_BPF and CAP_PERFMON (on 5.10 also a memlock limit of 64 MB: LimitMEMLOCK=64M); "
                + "see README, \"Privileges and errors\"."
        case .missingCapabilities(let names):
            return "ark-probe needs \(names.joined(separator: " and ")) to load eBPF programs. "
                + "Run it as root, or grant the capabilities: "
                + "setcap cap_bpf,cap_perfmon+ep ark-probe (see README, \"Privileges and errors\")."
        case .hookUnavailable(let hook, let reason):
            return "\(hook) is not available on this kernel: \(reason)"
        case .btfUnavailable(let path):
            return "kernel BTF not found at \(path). ArkProbe needs a kernel built with "
                + "CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.4)."
        case .attachFailed(let hook, let attempts):
            let tried = attempts.map { "  - \($0)" }.joined(separator: "\n")
            return "cannot attach to \(hook); tried:\n\(tried)"
        case .loadFailed(let detail, let errno, let log):
            var text = "cannot load the eBPF object: \(detail): \(errnoName(errno))"
            if !log.isEmpty { text += "\nlibbpf said:\n\(log)" }
            return text
        case .system(let call, let errno):
            return "\(call) failed: \(errnoName(errno))"
        case .invalidConfiguration(let message):
            return message
        case .loadingProcessFailed(let detail):
            return "cannot load the probe: \(detail). This is a bug in ark-probe; please report it "
                + "with the kernel version (uname -r) and what ark-probe printed before."
        }
    }
}

/// One way of attaching a hook that was tried, and why it did not work.
public struct AttachAttempt: Equatable, CustomStringConvertible, Sendable {
    public let mode: AttachMode
    public let reason: String

    public var description: String { "\(mode.rawValue): \(reason)" }
}

/// How the retransmit hook is attached, best first.
public enum AttachMode: String, CaseIterable, Sendable {
    /// BTF-typed raw tracepoint: full attribution through socket storage.
    case tpBTF = "tp_btf"
    /// Classic tracepoint through tracefs: attribution to the current task.
    case tracepoint
    /// kprobe on tcp_retransmit_skb(): attribution to the current task.
    case kprobe
}

func errnoName(_ code: Int32) -> String {
    let positive = code < 0 ? -code : code
    guard let message = strerror(positive) else { return "errno \(positive)" }
    return "\(String(cString: message)) (errno \(positive))"
}
