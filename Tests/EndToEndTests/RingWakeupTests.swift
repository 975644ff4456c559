// The ring buffer's wake-up policy (bpf/ark_probe.h), in the real kernel:
// a record wakes a reader whose window has passed, and not one inside the
// window it promised to read in. Each step is exact: a wake-up either
// reaches the ring's epoll descriptor or it does not. The records are the
// exits of short-lived socket owners (a bash whose connect is refused),
// which every kernel of the matrix reports.

import CArkProbeRecords
import Foundation
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

        // Window passed (never opened): the owner's exit wakes.
        try drainAndSettle()
        probe.readsUntil = 0
        let beforeFirst = monotonicNow()
        var owner = try runRefusedConnect(port)
        XCTAssertTrue(waitForWakeup(milliseconds: 5_000), "a record outside the window did not wake the reader")
        // The wake-up opened a short window, so the rest of a burst does not wake.
        XCTAssertGreaterThan(probe.readsUntil, beforeFirst)
        XCTAssertLessThanOrEqual(probe.readsUntil, monotonicNow() + UInt64(ARK_WAKEUP_GRACE_NS))
        XCTAssertEqual(try exits(of: owner), 1)

        // Inside a promised window: no wake-up, yet the record is there to read.
        try drainAndSettle()
        probe.readsUntil = monotonicNow() + 60_000_000_000
        owner = try runRefusedConnect(port)
        XCTAssertFalse(waitForWakeup(milliseconds: 500), "a record inside the window woke the reader")
        XCTAssertEqual(try exits(of: owner), 1, "the record submitted without a wake-up is missing")

        // The window over again: the next record wakes.
        try drainAndSettle()
        probe.readsUntil = monotonicNow()
        owner = try runRefusedConnect(port)
        XCTAssertTrue(waitForWakeup(milliseconds: 5_000), "a record after the window did not wake the reader")
        XCTAssertEqual(try exits(of: owner), 1)
    }

    /// Inside its window, a reader is still woken by a record that finds a
    /// quarter of the ring unread, so that one pacing itself slowly
    /// (`--line-delay`) does not lose a burst. In a 16 KiB ring: an owner
    /// with an empty environment queues less than 4 KiB (its environment
    /// header and exit) and does not wake; one whose environment is padded
    /// to 4 KiB queues more, and its exit record wakes.
    func testARecordFindingAQuarterOfTheRingUnreadWakesAReaderInsideItsWindow() throws {
        try reloadProbe(ringBufferBytes: 16 * 1024)
        let port = try closedLoopbackPort()

        try drainAndSettle()
        probe.readsUntil = monotonicNow() + 60_000_000_000
        var owner = try runRefusedConnect(port, environment: [:])
        XCTAssertFalse(waitForWakeup(milliseconds: 500), "less than a quarter of the ring unread woke the reader")
        XCTAssertEqual(try exits(of: owner), 1)

        try drainAndSettle()
        probe.readsUntil = monotonicNow() + 60_000_000_000
        owner = try runRefusedConnect(port, environment: ["ARK_RING_TEST_PADDING": String(repeating: "x", count: 4_096)])
        XCTAssertTrue(waitForWakeup(milliseconds: 5_000), "a quarter of the ring unread did not wake the reader")
        XCTAssertEqual(try exits(of: owner), 1)
        XCTAssertEqual(try probe.lostRecords(), 0)
    }

    /// The ring is mapped once, so a sample that runs past its end is read
    /// from two places: in a ring of 32 KiB, the environments (some KiB
    /// each) and exits of socket owners wrap it several times, and each
    /// arrives whole, once.
    func testSamplesThatWrapAroundTheRingArriveWhole() throws {
        try reloadProbe(ringBufferBytes: 32 * 1024)
        let port = try closedLoopbackPort()
        // Every byte is checked: a sample put together wrongly would show.
        // Padded, so that a few owners fill the ring whatever the test's own environment.
        var environment = ProcessInfo.processInfo.environment
        environment["ARK_RING_TEST_PADDING"] = String(repeating: "x", count: 4_000)
        let ownEnvironment = Set(environment.map { "\($0.key)=\($0.value)" })
        let start = monotonicNow()
        var exits: [UInt32: Int] = [:]
        var environments: [UInt32: Int] = [:]
        var sampleBytes = 0
        var owners: [UInt32] = []
        while sampleBytes <= 4 * 32 * 1024, owners.count < 100 {
            owners.append(UInt32(try runRefusedConnect(port, environment: environment)))
            while try probe.consume({ record in
                sampleBytes += MemoryLayout<ark_record>.size + 8
                guard record.pointee.kind == ARK_RECORD_PROCESS_EXIT.rawValue else { return }
                exits[record.pointee.owner.tgid, default: 0] += 1
                let exit = record.pointee
                XCTAssertTrue((start...self.monotonicNow()).contains(exit.ktime_ns))
                XCTAssertEqual(exit.owner.tid, exit.owner.tgid)
                XCTAssertEqual(withUnsafeBytes(of: exit.owner.comm) { Array($0.prefix(5)) }, Array("bash\0".utf8))
                XCTAssertTrue(withUnsafeBytes(of: exit.flow) { $0.allSatisfy { $0 == 0 } }, "an exit has no flow")
                XCTAssertEqual([exit.segments, UInt32(bitPattern: exit.error), exit.srtt_us, exit.rto_us], [0, 0, 0, 0])
            }, environment: { sample in
                sampleBytes += sample.count + 8
                func field(_ path: KeyPath<ark_process_environment, UInt32>) -> UInt32 {
                    sample.load(fromByteOffset: MemoryLayout<ark_process_environment>.offset(of: path)!, as: UInt32.self)
                }
                let headerSize = Int(ARK_PROCESS_ENVIRONMENT_HEADER_SIZE)
                XCTAssertEqual(sample.count, headerSize + Int(field(\.head_length) + field(\.tail_length)))
                XCTAssertEqual(field(\.tail_length), 0, "this environment fits in one piece")
                let variables = sample[headerSize...].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                XCTAssertFalse(variables.isEmpty)
                for variable in variables { XCTAssertTrue(ownEnvironment.contains(variable), variable) }
                environments[field(\.tgid), default: 0] += 1
            }) > 0 {}
        }
        XCTAssertGreaterThan(sampleBytes, 3 * 32 * 1024, "the samples went round the ring a few times")
        XCTAssertEqual(probe.malformedRecords, 0)
        XCTAssertEqual(try probe.lostRecords(), 0)
        for owner in owners {
            XCTAssertEqual(exits[owner], 1, "exit of \(owner)")
            XCTAssertEqual(environments[owner], 1, "environment of \(owner)")
        }
    }

    /// A process's exit is reported once, not per thread, when its threads
    /// die together. (Two of them finding it gone at once, which the
    /// program's exchange or delete settles, is too rare to provoke here.)
    func testAProcessWhoseThreadsExitTogetherIsReportedOnce() throws {
        let port = try closedLoopbackPort()
        let traffic = try NamespaceLab.productURL(named: "ark-lab-traffic")
        var pids: [UInt32] = []
        var exits: [UInt32: Int] = [:]
        for _ in 0..<20 {
            let process = Process()
            process.executableURL = traffic
            process.arguments = ["exit-together", "--to", "127.0.0.1", "--port", String(port), "--threads", "8"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            pids.append(UInt32(process.processIdentifier))
            while try probe.consume({ record in
                if record.pointee.kind == ARK_RECORD_PROCESS_EXIT.rawValue { exits[record.pointee.owner.tgid, default: 0] += 1 }
            }) > 0 {}
        }
        for pid in pids { XCTAssertEqual(exits[pid], 1, "exit records of \(pid)") }
        XCTAssertEqual(try probe.lostRecords(), 0)
    }

    // MARK: Helpers

    /// Replaces the probe with one whose ring holds `ringBufferBytes`.
    private func reloadProbe(ringBufferBytes: UInt32) throws {
        var options = ProbeOptions()
        options.ringBufferBytes = ringBufferBytes
        probe = nil
        probe = try Probe(options: options)
    }

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

    /// Exit records of process `pid` waiting in the ring (and reads the rest).
    private func exits(of pid: Int32) throws -> Int {
        var count = 0
        while try probe.consume({ record in
            if record.pointee.kind == ARK_RECORD_PROCESS_EXIT.rawValue && record.pointee.owner.tgid == UInt32(pid) {
                count += 1
            }
        }) > 0 {}
        return count
    }

    /// Runs a process that claims a socket (its connect to `port` is
    /// refused) and exits; returns its pid once it has.
    private func runRefusedConnect(_ port: UInt16, environment: [String: String]? = nil) throws -> Int32 {
        let process = Process()
        if let environment { process.environment = environment }
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { throw LabError("a connect to closed port \(port) succeeded") }
        return process.processIdentifier
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

    private func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
