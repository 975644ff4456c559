// The ring buffer's wake-up policy (bpf/ark_probe.h), in the real kernel:
// a record wakes a reader whose window has passed, and not one inside the
// window it promised to read in. Each step is exact: a wake-up either
// reaches the ring's epoll descriptor or it does not.

import CArkProbeRecords
import KernelProbe
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class RingWakeupTests: XCTestCase {
    private var probe: Probe!

    override func setUpWithError() throws {
        do {
            probe = try Probe()
        } catch {
            let message = "cannot load the probe: \(error)"
            if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" { throw LabError(message) }
            throw XCTSkip(message + " (set ARK_PROBE_REQUIRE_KERNEL_TESTS=1 to make this a failure)")
        }
    }

    override func tearDown() { probe = nil }

    func testARecordWakesAReaderWhoseWindowPassedAndNotOneInsideIt() throws {
        let port = try closedLoopbackPort()

        // Window passed (never opened): the drop of a SYN to a closed port wakes.
        try drainAndSettle()
        probe.readsUntil = 0
        let beforeFirst = monotonicNow()
        try connectRefused(port)
        XCTAssertTrue(waitForWakeup(milliseconds: 5_000), "a record outside the window did not wake the reader")
        // The wake-up opened a short window, so the rest of a burst does not wake.
        XCTAssertGreaterThan(probe.readsUntil, beforeFirst)
        XCTAssertLessThanOrEqual(probe.readsUntil, monotonicNow() + UInt64(ARK_WAKEUP_GRACE_NS))
        XCTAssertGreaterThan(try drops(to: port), 0)

        // Inside a promised window: no wake-up, yet the record is there to read.
        try drainAndSettle()
        probe.readsUntil = monotonicNow() + 60_000_000_000
        try connectRefused(port)
        XCTAssertFalse(waitForWakeup(milliseconds: 500), "a record inside the window woke the reader")
        XCTAssertGreaterThan(try drops(to: port), 0, "the record submitted without a wake-up is missing")

        // The window over again: the next record wakes.
        try drainAndSettle()
        probe.readsUntil = monotonicNow()
        try connectRefused(port)
        XCTAssertTrue(waitForWakeup(milliseconds: 5_000), "a record after the window did not wake the reader")
        XCTAssertGreaterThan(try drops(to: port), 0)
    }

    // MARK: Helpers

    private func monotonicNow() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Reads what waits, then lets epoll re-check the ring: a wake-up seen
    /// before stays on its ready list until a poll finds the ring empty.
    private func drainAndSettle() throws {
        while try probe.consume({ _ in }) > 0 {}
        _ = waitForWakeup(milliseconds: 0)
    }

    /// Whether the ring's epoll descriptor becomes readable in time.
    private func waitForWakeup(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: probe.pollDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// Drop records of packets to `port` waiting in the ring (and reads the rest).
    private func drops(to port: UInt16) throws -> Int {
        var count = 0
        while try probe.consume({ record in
            if record.pointee.kind == ARK_RECORD_DROP.rawValue && record.pointee.flow.dport == port { count += 1 }
        }) > 0 {}
        return count
    }

    /// A loopback port nobody listens on: bound, then closed.
    private func closedLoopbackPort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LabError("socket: errno \(errno)") }
        defer { close(descriptor) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw LabError("bind: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A connection refused: the SYN is dropped (no socket) and answered by a reset.
    private func connectRefused(_ port: UInt16) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LabError("socket: errno \(errno)") }
        defer { close(descriptor) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result != 0, errno == ECONNREFUSED else { throw LabError("connect to closed port \(port): \(result), errno \(errno)") }
    }

    private func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
