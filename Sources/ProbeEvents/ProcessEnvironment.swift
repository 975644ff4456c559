import CArkProbeRecords

/// Who a socket owner is, as the kernel read it in the process's own
/// context when it first claimed a socket: its cgroup path, and its
/// environment block copied from its memory.
public struct ProcessEnvironment: Equatable, Sendable {
    /// Kernel CLOCK_MONOTONIC nanoseconds of the claim.
    public var monotonicNanoseconds: UInt64
    public var pid: UInt32
    public var tid: UInt32
    public var cgroupID: UInt64
    public var command: Command
    /// The cgroup v2 path (`/kubepods.slice/...`), relative to the root
    /// cgroup; nil when deeper than the kernel sends.
    public var cgroupPath: String?
    /// Whether the environment was asked for (launcher-environment on).
    public var environmentCopied: Bool
    /// The whole block's length in the process.
    public var length: UInt32
    /// The block from its start; when it was too long to send whole, `tail`
    /// holds its end and the middle is missing.
    public var head: [UInt8]
    public var tail: [UInt8]
    /// Why the copy failed (a negative errno), or 0.
    public var error: Int32

    public init(monotonicNanoseconds: UInt64 = 0, pid: UInt32, tid: UInt32 = 0, cgroupID: UInt64 = 0,
                command: Command = Command(), cgroupPath: String? = nil, environmentCopied: Bool = true,
                length: UInt32 = 0, head: [UInt8] = [], tail: [UInt8] = [], error: Int32 = 0) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.pid = pid
        self.tid = tid
        self.cgroupID = cgroupID
        self.command = command
        self.cgroupPath = cgroupPath
        self.environmentCopied = environmentCopied
        self.length = length
        self.head = head
        self.tail = tail
        self.error = error
    }

    /// Decodes an `ark_process_environment` sample; nil when it is shorter
    /// than its header says. Fields are read by offset: the sample is only
    /// as long as the data sent, not the whole struct.
    public init?(sample: UnsafeRawBufferPointer) {
        let headerSize = Int(ARK_PROCESS_ENVIRONMENT_HEADER_SIZE)
        guard sample.count >= headerSize else { return nil }
        func field<T>(_ path: KeyPath<ark_process_environment, T>) -> T {
            sample.loadUnaligned(fromByteOffset: MemoryLayout<ark_process_environment>.offset(of: path)!, as: T.self)
        }
        let headLength = Int(field(\.head_length)), tailLength = Int(field(\.tail_length))
        guard headLength + tailLength <= Int(ARK_ENVIRONMENT_BYTES), sample.count >= headerSize + headLength + tailLength else {
            return nil
        }
        // The tail sits at the second half of the data, after a full head.
        let tailOffset = headerSize + (tailLength == 0 ? headLength : Int(ARK_ENVIRONMENT_BYTES) / 2)
        guard tailLength == 0 || sample.count >= tailOffset + tailLength else { return nil }
        let namesOffset = MemoryLayout<ark_process_environment>.offset(of: \.cgroup_names)!
        self.init(
            monotonicNanoseconds: field(\.ktime_ns), pid: field(\.tgid), tid: field(\.tid),
            cgroupID: field(\.cgroup_id), command: Command(field(\.comm)),
            cgroupPath: Self.cgroupPath(names: UnsafeRawBufferPointer(rebasing: sample[namesOffset..<headerSize]),
                                        levels: Int(field(\.cgroup_levels)), truncated: field(\.cgroup_truncated) != 0),
            environmentCopied: field(\.environment_copied) != 0,
            length: field(\.environment_length),
            head: Array(sample[headerSize..<(headerSize + headLength)]),
            tail: Array(sample[tailOffset..<(tailOffset + tailLength)]),
            error: field(\.error))
    }

    /// The path from the names the kernel sent, innermost first.
    private static func cgroupPath(names: UnsafeRawBufferPointer, levels: Int, truncated: Bool) -> String? {
        let nameLength = Int(ARK_CGROUP_NAME_LEN)
        guard !truncated, levels <= Int(ARK_CGROUP_LEVELS), names.count >= levels * nameLength else { return nil }
        var components: [String] = []
        for level in (0..<levels).reversed() {
            let name = names[(level * nameLength)..<((level + 1) * nameLength)]
            components.append(String(decoding: name.prefix { $0 != 0 }, as: UTF8.self))
        }
        return "/" + components.joined(separator: "/")
    }
}
