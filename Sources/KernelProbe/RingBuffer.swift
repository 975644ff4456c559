import CArkProbeRecords
import CLibBPF
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Reads `ark_record`s from the probe's BPF ring buffer, in place: the
/// handler sees each record where the kernel wrote it, no copy. A socket
/// owner's environment (`ark_process_environment`, of its own length) goes
/// to a handler of its own.
///
/// The ring's data is mapped once. (libbpf's reader maps it twice in a row,
/// so that a sample that wraps around the end reads as one piece; every page
/// of the ring then counts twice in the agent's resident memory, 2 MB for the
/// default 1 MiB.) The rare sample that wraps is copied to a buffer of its
/// own. The protocol is the kernel's (kernel/bpf/ringbuf.c): an 8-byte header
/// per sample, its length with a busy and a discard bit, positions that only
/// grow, and the consumer position stored after a sample is read.
final class RingBuffer {
    /// An epoll descriptor holding the map's: readable when the programs
    /// wake the reader (not merely when samples wait: most are submitted
    /// without a wake-up, for the reader reads on its own schedule).
    let pollDescriptor: Int32
    /// Samples that are neither an `ark_record` nor an environment: an
    /// object/agent mismatch.
    private(set) var malformedRecords: UInt64 = 0
    /// Samples one `consume` hands out at most: as many as the ring holds.
    /// The kernel keeps producing while the reader reads, so under a flood
    /// reading until the ring is empty would never end, and what the caller
    /// builds from the records (lines not yet written) would grow without bound.
    private let batchLimit: Int
    private let pageSize: Int
    private let dataSize: Int
    /// The consumer position's page (writable), and the producer position's
    /// page followed by the data (read-only).
    private let consumerPage: UnsafeMutableRawPointer
    private let producerPage: UnsafeRawPointer
    /// Room for the largest sample, for one that wraps around the end.
    private let wrapped: UnsafeMutableRawPointer
    private static let largestSample = MemoryLayout<ark_process_environment>.size
    /// Kept open while the reader lives: the agent's descriptors are where
    /// tools (bpftool, the live benchmark) find its maps.
    private let map: ProbeDescriptor

    init(map: ProbeDescriptor, bytes: UInt32) throws(ProbeError) {
        // Each sample takes an 8-byte header, rounded to 8 bytes.
        batchLimit = Int(bytes) / (MemoryLayout<ark_record>.size + Int(BPF_RINGBUF_HDR_SZ)) + 1
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        dataSize = Int(bytes)
        let mapDescriptor = map.value
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .system(call: "epoll_create1", errno: errno) }
        var readable = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: mapDescriptor))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, mapDescriptor, &readable) == 0 else {
            let code = errno
            close(epoll)
            throw .system(call: "epoll_ctl(\(map.name))", errno: code)
        }
        guard let consumer = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, mapDescriptor, 0),
              consumer != MAP_FAILED else {
            let code = errno
            close(epoll)
            throw .system(call: "mmap(\(map.name) consumer position)", errno: code)
        }
        guard let producer = mmap(nil, pageSize + dataSize, PROT_READ, MAP_SHARED, mapDescriptor, off_t(pageSize)),
              producer != MAP_FAILED else {
            let code = errno
            munmap(consumer, pageSize)
            close(epoll)
            throw .system(call: "mmap(\(map.name) data)", errno: code)
        }
        self.map = map
        pollDescriptor = epoll
        consumerPage = consumer
        producerPage = UnsafeRawPointer(producer)
        wrapped = UnsafeMutableRawPointer.allocate(byteCount: Self.largestSample, alignment: 8)
    }

    deinit {
        close(pollDescriptor)
        munmap(consumerPage, pageSize)
        munmap(UnsafeMutableRawPointer(mutating: producerPage), pageSize + dataSize)
        wrapped.deallocate()
    }

    /// Hands every waiting record to `body` (environments to
    /// `environment`), but no more than the ring holds; returns how many
    /// samples there were.
    func consume(_ body: (UnsafePointer<ark_record>) -> Void,
                 environment: (UnsafeRawBufferPointer) -> Void) throws(ProbeError) -> Int {
        let consumerPosition = consumerPage.assumingMemoryBound(to: UInt.self)
        let producerPosition = producerPage.assumingMemoryBound(to: UInt.self)
        let data = producerPage + pageSize
        let mask = UInt(dataSize - 1)
        var consumer = ark_load_acquire(consumerPosition)
        var delivered = 0
        reading: while delivered < batchLimit {
            let producer = ark_load_acquire(producerPosition)
            guard consumer < producer else { break }
            while consumer < producer, delivered < batchLimit {
                let headerOffset = Int(consumer & mask)
                let header = ark_load_acquire_32((data + headerOffset).assumingMemoryBound(to: UInt32.self))
                // Reserved but not yet submitted (or discarded): read it next time.
                if header & UInt32(BPF_RINGBUF_BUSY_BIT) != 0 { break reading }
                let length = Int(header & ~UInt32(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT))
                if header & UInt32(BPF_RINGBUF_DISCARD_BIT) == 0 {
                    delivered += 1
                    deliver(sampleAt: (headerOffset + Int(BPF_RINGBUF_HDR_SZ)) & Int(mask), length: length, in: data,
                            body, environment)
                }
                consumer += UInt((length + Int(BPF_RINGBUF_HDR_SZ) + 7) & ~7)
                ark_store_release(consumerPosition, consumer)
            }
        }
        return delivered
    }

    private func deliver(sampleAt offset: Int, length: Int, in data: UnsafeRawPointer,
                         _ body: (UnsafePointer<ark_record>) -> Void,
                         _ environment: (UnsafeRawBufferPointer) -> Void) {
        guard length <= Self.largestSample else {
            malformedRecords += 1
            return
        }
        var sample = data + offset
        if offset + length > dataSize {
            let head = dataSize - offset
            wrapped.copyMemory(from: sample, byteCount: head)
            (wrapped + head).copyMemory(from: data, byteCount: length - head)
            sample = UnsafeRawPointer(wrapped)
        }
        if length == MemoryLayout<ark_record>.size {
            body(sample.assumingMemoryBound(to: ark_record.self))
        } else if length >= Int(ARK_PROCESS_ENVIRONMENT_HEADER_SIZE),
                  sample.load(fromByteOffset: MemoryLayout<ark_process_environment>.offset(of: \.kind)!, as: UInt32.self)
                    == ARK_RECORD_PROCESS_ENVIRONMENT.rawValue {
            environment(UnsafeRawBufferPointer(start: sample, count: length))
        } else {
            malformedRecords += 1
        }
    }
}
