#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a process, read without privileges where the
/// kernel allows it.
public enum ProcessFiles {
    /// The cgroup v2 path of `pid` (the `0::` line of /proc/PID/cgroup,
    /// which anyone may read); nil when the process is gone.
    public static func cgroupPath(of pid: UInt32) -> String? {
        guard let bytes = read("/proc/\(pid)/cgroup", limit: 64 * 1024) else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("0::".utf8)) {
            return String(decoding: line.dropFirst(3), as: UTF8.self)
        }
        return nil
    }

    /// /proc/PID/environ: nil unless the agent may ptrace-read the process
    /// (same user, or CAP_SYS_PTRACE), the fallback to the kernel's copy.
    public static func environment(of pid: UInt32) -> [UInt8]? {
        read("/proc/\(pid)/environ", limit: 1 << 20)
    }

    private static func read(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }
}

extension WorkloadIdentity {
    /// The identity of `pid`: its cgroup path as the kernel sent it
    /// (`cgroupPath`) or from /proc, and its launcher from the environment
    /// the kernel copied (`head` and `tail` of the block) or, without one,
    /// from /proc/PID/environ where readable and allowed.
    public static func resolve(pid: UInt32, cgroupPath: String? = nil, head: [UInt8]? = nil, tail: [UInt8] = [],
                               readsEnvironment: Bool = true) -> WorkloadIdentity {
        let path = cgroupPath ?? ProcessFiles.cgroupPath(of: pid)
        let cgroup = path.flatMap { try? CgroupWorkload(path: $0) } ?? CgroupWorkload()
        let launcher: LauncherEnvironment
        if let head {
            launcher = LauncherEnvironment(head: head, tail: tail)
        } else if readsEnvironment, let block = ProcessFiles.environment(of: pid) {
            launcher = LauncherEnvironment(block: block)
        } else {
            launcher = LauncherEnvironment()
        }
        return WorkloadIdentity(cgroupPath: path, cgroup: cgroup, launcher: launcher)
    }
}
