import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the agent's resident set to what its loop uses.
///
/// Start-up (argument parsing, rule compilation, loading the probe) runs
/// code the loop never runs again, reads symbol tables and constants the
/// loop never reads again, and every page fault on a file mapping maps its
/// neighbours too ("fault-around", 64 KiB): by the time the loop starts,
/// most of the binary and of libc is mapped. Once, when start-up is over,
/// every read-only file mapping (code, symbol tables, constants) is unmapped
/// from this process; the loop faults back in only what it uses, which the
/// link keeps together (scripts/hot-symbols). The pages stay in the page
/// cache: this costs a few hundred minor faults, never a read from disk.
/// Pages that are private copies ("Anonymous" in smaps: relocated data, a
/// text relocation, a debugger's breakpoint) would lose their contents, so a
/// mapping with any is left alone, as is every writable mapping.
/// ("Private_Dirty" is no test: it also counts page-cache pages not yet
/// written back, as a freshly linked binary's are.) Start-up also frees
/// heap memory (the kernel's BTF, rule sources) that malloc keeps; it goes
/// back to the kernel too.
public enum CodeResidency {
    /// Releases start-up code and data and freed heap pages; returns the
    /// bytes of file mappings released.
    @discardableResult
    public static func releaseStartupMemory() -> Int {
        let released = releaseCleanFileMappings()
        malloc_trim(0)
        return released
    }

    /// Unmaps every read-only file mapping of this process that holds no
    /// private copies of pages.
    static func releaseCleanFileMappings() -> Int {
        var released = 0
        for mapping in Mapping.current() where mapping.isReadOnlyFile && mapping.anonymousKilobytes == 0 {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            if madvise(start, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 {
                released += Int(mapping.end - mapping.start)
            }
        }
        return released
    }

    /// One mapping of /proc/self/smaps: a header line
    /// `start-end perms offset dev inode path`, then `Field: value kB` lines.
    struct Mapping {
        let start: UInt
        let end: UInt
        /// Code or constants backed by a file: never the stack, heap, vdso
        /// or BPF maps, never anything writable.
        let isReadOnlyFile: Bool
        /// Pages of the mapping that are private copies, not the file's.
        var anonymousKilobytes = 0

        init?(header text: String) {
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                  end > start else { return nil }
            self.start = start
            self.end = end
            isReadOnlyFile = (fields[1] == "r-xp" || fields[1] == "r--p") && fields.count >= 6 && fields[5].hasPrefix("/")
        }

        /// The mappings of this process now; empty if smaps cannot be read.
        static func current() -> [Mapping] {
            guard let smaps = fopen("/proc/self/smaps", "r") else { return [] }
            defer { fclose(smaps) }
            var mappings: [Mapping] = []
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), smaps) != nil {
                let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                if text.hasPrefix("Anonymous:"), !mappings.isEmpty {
                    let value = text.dropFirst("Anonymous:".count).split(separator: " ").first
                    // Unreadable: count it as changed, so the mapping is kept.
                    mappings[mappings.count - 1].anonymousKilobytes = value.flatMap { Int($0) } ?? 1
                } else if let first = text.first, first.isHexDigit, let mapping = Mapping(header: text) {
                    mappings.append(mapping)
                }
            }
            return mappings
        }
    }
}
