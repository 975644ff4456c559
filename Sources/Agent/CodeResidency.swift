#if canImport(Glibc)
import Glibc
#endif

/// Keeps the agent's resident code to the code its loop runs.
///
/// Start-up (argument parsing, rule compilation, loading the probe) runs
/// code the loop never runs again, and every page fault on a file mapping
/// maps its neighbours too ("fault-around", 64 KiB), so by the time the loop
/// starts most of the binary and of libc is mapped: 6 MB of the agent's
/// 10 MB resident set. Once start-up is over, each executable file mapping
/// is marked for random access (no fault-around) and unmapped from this
/// process; the loop faults back in, page by page, only what it runs. The
/// pages stay in the page cache: this costs a few hundred minor faults,
/// never a read from disk. Writable and read-only data mappings are left
/// alone (relocated data must keep its contents).
public enum CodeResidency {
    /// The number of bytes of executable mappings released.
    @discardableResult
    public static func releaseStartupCode() -> Int {
        guard let maps = fopen("/proc/self/maps", "r") else { return 0 }
        defer { fclose(maps) }
        var released = 0
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), maps) != nil {
            guard let mapping = Mapping(line) else { continue }
            // Only code backed by a file: never the stack, heap, vdso or
            // BPF maps, never anything writable.
            guard mapping.isExecutableFile, let start = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            let length = Int(mapping.end - mapping.start)
            _ = madvise(start, length, MADV_RANDOM)
            if madvise(start, length, MADV_DONTNEED) == 0 { released += length }
        }
        return released
    }

    /// One line of /proc/self/maps: `start-end perms offset dev inode path`.
    struct Mapping {
        let start: UInt
        let end: UInt
        let isExecutableFile: Bool

        init?(_ line: [CChar]) {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                  end > start else { return nil }
            let permissions = fields[1]
            let path = fields[5]
            self.start = start
            self.end = end
            isExecutableFile = permissions == "r-xp" && path.hasPrefix("/")
        }
    }
}
