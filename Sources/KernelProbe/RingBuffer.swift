import CArkProbeRecords
import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Reads `ark_record`s from the probe's BPF ring buffer, in place: the
/// handler sees each record where the kernel wrote it, no copy.
final class RingBuffer {
    private var handle: OpaquePointer?
    private var handler: (UnsafePointer<ark_record>) -> Void = { _ in }
    /// Samples whose size is not an `ark_record`'s: an object/agent mismatch.
    private(set) var malformedRecords: UInt64 = 0

    init(map: BPFMap) throws(ProbeError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        handle = ring_buffer__new(map.fileDescriptor, { context, data, size in
            let ring = Unmanaged<RingBuffer>.fromOpaque(context!).takeUnretainedValue()
            ring.deliver(data, size)
            return 0
        }, context, nil)
        if handle == nil {
            throw .system(call: "ring_buffer__new", errno: errno)
        }
    }

    deinit { ring_buffer__free(handle) }

    /// An epoll descriptor that becomes readable when records are waiting.
    var pollDescriptor: Int32 { ring_buffer__epoll_fd(handle) }

    /// Hands every waiting record to `body`; returns how many there were.
    func consume(_ body: @escaping (UnsafePointer<ark_record>) -> Void) throws(ProbeError) -> Int {
        handler = body
        defer { handler = { _ in } }
        let result = ring_buffer__consume(handle)
        if result < 0 { throw .system(call: "ring_buffer__consume", errno: result) }
        return Int(result)
    }

    private func deliver(_ data: UnsafeMutableRawPointer?, _ size: Int) {
        guard let data, size == MemoryLayout<ark_record>.size else {
            malformedRecords += 1
            return
        }
        handler(UnsafePointer(data.assumingMemoryBound(to: ark_record.self)))
    }
}
