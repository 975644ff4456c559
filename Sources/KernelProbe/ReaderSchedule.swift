import CArkProbeRecords
#if canImport(Glibc)
import Glibc
#endif

/// The reader's side of the wake-up policy (`struct ark_reader_schedule`,
/// bpf/ark_probe.h): the `ring_reader` map, mapped into this process, where
/// the reader says until when it reads the ring without being woken.
final class ReaderSchedule {
    private let page: UnsafeMutableRawPointer
    private let length: Int
    /// Kept open while mapped, as the ring's (`RingBuffer.map`).
    private let map: ProbeDescriptor

    init(map: ProbeDescriptor) throws(ProbeError) {
        length = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, map.value, 0),
              mapped != MAP_FAILED else {
            throw .system(call: "mmap(\(map.name))", errno: errno)
        }
        page = mapped
        self.map = map
    }

    deinit { munmap(page, length) }

    /// CLOCK_MONOTONIC nanoseconds; the programs move it too (a wake-up
    /// opens a short window). A plain aligned 64-bit load and store: a
    /// torn or stale value only adds or saves one wake-up.
    var readsUntil: UInt64 {
        get { page.load(fromByteOffset: MemoryLayout<ark_reader_schedule>.offset(of: \.reads_until_ns)!, as: UInt64.self) }
        set {
            page.storeBytes(of: newValue, toByteOffset: MemoryLayout<ark_reader_schedule>.offset(of: \.reads_until_ns)!,
                            as: UInt64.self)
        }
    }

    /// Sets the unread bytes in the ring at which a record wakes the reader
    /// even inside its window (0: never). Once, before the first read.
    func wakeWhenQueued(bytes: UInt64) {
        page.storeBytes(of: bytes,
                        toByteOffset: MemoryLayout<ark_reader_schedule>.offset(of: \.wake_when_queued_bytes)!,
                        as: UInt64.self)
    }
}
