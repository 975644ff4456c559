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
    /// Samples one `consume` hands out at most: as many as the ring holds.
    /// libbpf keeps consuming while the kernel keeps producing, so under a
    /// flood one call would never end, and what the caller builds from the
    /// records (lines not yet written) would grow without bound.
    private let batchLimit: Int
    private var delivered = 0

    init(map: BPFMap, bytes: UInt32) throws(ProbeError) {
        // Each sample takes an 8-byte header, rounded to 8 bytes.
        batchLimit = Int(bytes) / (MemoryLayout<ark_record>.size + 8) + 1
        let context = Unmanaged.passUnretained(self).toOpaque()
        handle = ring_buffer__new(map.fileDescriptor, { context, data, size in
            let ring = Unmanaged<RingBuffer>.fromOpaque(context!).takeUnretainedValue()
            ring.deliver(data, size)
            // A negative result makes libbpf stop after this sample.
            return ring.delivered < ring.batchLimit ? 0 : -ECANCELED
        }, context, nil)
        if handle == nil {
            throw .system(call: "ring_buffer__new", errno: errno)
        }
    }

    deinit { ring_buffer__free(handle) }

    /// An epoll descriptor that becomes readable when records are waiting.
    var pollDescriptor: Int32 { ring_buffer__epoll_fd(handle) }

    /// Hands every waiting record to `body`, but no more than the ring
    /// holds; returns how many samples there were.
    func consume(_ body: @escaping (UnsafePointer<ark_record>) -> Void) throws(ProbeError) -> Int {
        handler = body
        delivered = 0
        defer { handler = { _ in } }
        let result = ring_buffer__consume(handle)
        if result < 0 && !(result == -ECANCELED && delivered == batchLimit) {
            throw .system(call: "ring_buffer__consume", errno: -result)
        }
        return delivered
    }

    private func deliver(_ data: UnsafeMutableRawPointer?, _ size: Int) {
        delivered += 1
        guard let data, size == MemoryLayout<ark_record>.size else {
            malformedRecords += 1
            return
        }
        handler(UnsafePointer(data.assumingMemoryBound(to: ark_record.self)))
    }
}
