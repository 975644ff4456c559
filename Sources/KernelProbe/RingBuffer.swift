import CArkProbeRecords
import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// Reads `ark_record`s from the probe's BPF ring buffer, in place: the
/// handler sees each record where the kernel wrote it, no copy. A socket
/// owner's environment (`ark_process_environment`, of its own length) goes
/// to a handler of its own.
final class RingBuffer {
    private var handle: OpaquePointer?
    private var handler: (UnsafePointer<ark_record>) -> Void = { _ in }
    private var environmentHandler: (UnsafeRawBufferPointer) -> Void = { _ in }
    /// Samples that are neither an `ark_record` nor an environment: an
    /// object/agent mismatch.
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

    /// Hands every waiting record to `body` (environments to
    /// `environment`), but no more than the ring holds; returns how many
    /// samples there were.
    func consume(_ body: @escaping (UnsafePointer<ark_record>) -> Void,
                 environment: @escaping (UnsafeRawBufferPointer) -> Void) throws(ProbeError) -> Int {
        handler = body
        environmentHandler = environment
        delivered = 0
        defer {
            handler = { _ in }
            environmentHandler = { _ in }
        }
        let result = ring_buffer__consume(handle)
        if result < 0 && !(result == -ECANCELED && delivered == batchLimit) {
            throw .system(call: "ring_buffer__consume", errno: -result)
        }
        return delivered
    }

    private func deliver(_ data: UnsafeMutableRawPointer?, _ size: Int) {
        delivered += 1
        guard let data else {
            malformedRecords += 1
            return
        }
        if size == MemoryLayout<ark_record>.size {
            handler(UnsafePointer(data.assumingMemoryBound(to: ark_record.self)))
        } else if size >= Int(ARK_PROCESS_ENVIRONMENT_HEADER_SIZE), size <= MemoryLayout<ark_process_environment>.size,
                  data.load(fromByteOffset: MemoryLayout<ark_process_environment>.offset(of: \.kind)!, as: UInt32.self)
                    == ARK_RECORD_PROCESS_ENVIRONMENT.rawValue {
            environmentHandler(UnsafeRawBufferPointer(start: data, count: size))
        } else {
            malformedRecords += 1
        }
    }
}
