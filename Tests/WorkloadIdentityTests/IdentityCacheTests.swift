import XCTest
@testable import WorkloadIdentity

final class IdentityCacheTests: XCTestCase {
    func identity(_ pid: UInt32) -> WorkloadIdentity {
        WorkloadIdentity(cgroupPath: "/system.slice/app-\(pid).service")
    }

    func testStoresOncePerProcessAndForgetsAtExit() {
        var cache = IdentityCache(capacity: 8)
        XCTAssertTrue(cache.insert(identity(7), for: 7))
        XCTAssertFalse(cache.insert(identity(7), for: 7), "the same identity again is no news")
        XCTAssertTrue(cache.insert(WorkloadIdentity(cgroupPath: "/other.slice"), for: 7), "a changed one is")
        XCTAssertEqual(cache[7]?.identity.cgroupPath, "/other.slice")
        XCTAssertEqual(String(decoding: cache[7]!.fields, as: UTF8.self), #","cgroup_path":"/other.slice""#)
        cache.remove(7)
        XCTAssertNil(cache[7], "a pid reused after an exit is read again")
        XCTAssertEqual(cache.count, 0)
    }

    func testTheVersionMovesWithEveryChangeAndOnlyThen() {
        var cache = IdentityCache(capacity: 2)
        var seen = cache.version
        func moved() -> Bool {
            defer { seen = cache.version }
            return cache.version != seen
        }
        cache.insert(identity(1), for: 1)
        XCTAssertTrue(moved(), "insert")
        cache.insert(identity(1), for: 1)
        XCTAssertFalse(moved(), "the same identity again")
        _ = cache[1]
        XCTAssertFalse(moved(), "a lookup")
        cache.insert(WorkloadIdentity(cgroupPath: "/other.slice"), for: 1)
        XCTAssertTrue(moved(), "a changed identity")
        cache.remove(9)
        XCTAssertFalse(moved(), "removing a pid it does not hold")
        cache.insert(identity(2), for: 2)
        XCTAssertTrue(moved())
        cache.insert(identity(3), for: 3)
        XCTAssertTrue(moved(), "insert with an eviction")
        XCTAssertNil(cache[1])
        cache.remove(3)
        XCTAssertTrue(moved(), "remove")
    }

    func testBoundedEvictingTheOldest() {
        var cache = IdentityCache(capacity: 3)
        for pid in 1...3 as ClosedRange<UInt32> { cache.insert(identity(pid), for: pid) }
        cache.remove(1)
        for pid in 4...5 as ClosedRange<UInt32> { cache.insert(identity(pid), for: pid) }
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.evictions, 1, "5 evicted 2, the oldest still cached (1 had exited)")
        XCTAssertNil(cache[2])
        XCTAssertNotNil(cache[5])
        // Churn: 100,000 short-lived processes never grow it.
        for pid in 10..<100_000 as Range<UInt32> {
            cache.insert(identity(pid), for: pid)
            if pid % 2 == 0 { cache.remove(pid) }
        }
        XCTAssertLessThanOrEqual(cache.count, 3)
    }

    func testTheJobKeyComesFromBothSources() {
        var launcher = LauncherEnvironment()
        launcher.masterAddress = "10.0.0.1"
        launcher.masterPort = 29500
        var identity = WorkloadIdentity(launcher: launcher)
        XCTAssertEqual(identity.job?.description, "rdzv:10.0.0.1:29500")
        identity.cgroup.slurmJob = 12
        XCTAssertEqual(identity.job?.description, "slurm:12")
    }
}
