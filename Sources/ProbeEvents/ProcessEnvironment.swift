import CArkProbeRecords

/// A socket owner's environment block, as the kernel copied it from the
/// process's memory when the process first claimed a socket.
public struct ProcessEnvironment: Equatable, Sendable {
    /// Kernel CLOCK_MONOTONIC nanoseconds of the claim.
    public var monotonicNanoseconds: UInt64
    public var pid: UInt32
    public var tid: UInt32
    public var cgroupID: UInt64
    public var command: Command
    /// The whole block's length in the process.
    public var length: UInt32
    /// The block from its start; when it was too long to send whole, `tail`
    /// holds its end and the middle is missing.
    public var head: [UInt8]
    public var tail: [UInt8]
    /// Why the copy failed (a negative errno), or 0.
    public var error: Int32

    public init(monotonicNanoseconds: UInt64 = 0, pid: UInt32, tid: UInt32 = 0, cgroupID: UInt64 = 0,
                command: Command = Command(), length: UInt32 = 0, head: [UInt8] = [], tail: [UInt8] = [],
                error: Int32 = 0) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.pid = pid
        self.tid = tid
        self.cgroupID = cgroupID
        self.command = command
        self.length = length
        self.head = head
        self.tail = tail
        self.error = error
    }

    /// Decodes an `ark_process_environment` sample; nil when it is shorter
    /// than its header says.
    public init?(sample: UnsafeRawBufferPointer) {
        let headerSize = Int(ARK_PROCESS_ENVIRONMENT_HEADER_SIZE)
        guard sample.count >= headerSize, let base = sample.baseAddress else { return nil }
        let header = base.assumingMemoryBound(to: ark_process_environment.self)
        let headLength = Int(header.pointee.head_length), tailLength = Int(header.pointee.tail_length)
        guard headLength + tailLength <= Int(ARK_ENVIRONMENT_BYTES), sample.count >= headerSize + headLength + tailLength else {
            return nil
        }
        // The tail sits at the second half of the data, after a full head.
        let tailOffset = headerSize + (tailLength == 0 ? headLength : Int(ARK_ENVIRONMENT_BYTES) / 2)
        guard tailLength == 0 || sample.count >= tailOffset + tailLength else { return nil }
        self.init(
            monotonicNanoseconds: header.pointee.ktime_ns, pid: header.pointee.tgid, tid: header.pointee.tid,
            cgroupID: header.pointee.cgroup_id, command: Command(header.pointee.comm),
            length: header.pointee.environment_length,
            head: Array(sample[headerSize..<(headerSize + headLength)]),
            tail: Array(sample[tailOffset..<(tailOffset + tailLength)]),
            error: header.pointee.error)
    }
}
