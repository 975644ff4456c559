import XCTest
@testable import WorkloadIdentity

final class IdentityCacheTests: XCTestCase {
    func identity(_ pid: UInt32) -> WorkloadIdentity {
        WorkloadIdentity(cgroupPath: "/system.slice/app-\(pid).service")
    }

    func testResolvesOncePerProcessAndAgainAfterItsExit() {
        var cache = IdentityCache(capacity: 8)
        var resolved: [UInt32] = []
        for pid in [7, 7, 8, 7] as [UInt32] {
            _ = cache.identity(of: pid) { resolved.append($0); return identity($0) }
        }
        XCTAssertEqual(resolved, [7, 8])
        cache.remove(7)
        XCTAssertEqual(cache.identity(of: 7) { resolved.append($0); return identity($0) }.cgroupPath,
                       "/system.slice/app-7.service")
        XCTAssertEqual(resolved, [7, 8, 7], "a pid reused after an exit is read again")
    }

    func testBoundedEvictingTheOldest() {
        var cache = IdentityCache(capacity: 3)
        for pid in 1...3 as ClosedRange<UInt32> { _ = cache.identity(of: pid, resolve: identity) }
        cache.remove(1)
        for pid in 4...5 as ClosedRange<UInt32> { _ = cache.identity(of: pid, resolve: identity) }
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.evictions, 1, "5 evicted 2, the oldest still cached (1 had exited)")
        var resolved: [UInt32] = []
        _ = cache.identity(of: 2) { resolved.append($0); return identity($0) }
        _ = cache.identity(of: 5) { resolved.append($0); return identity($0) }
        XCTAssertEqual(resolved, [2])
        // Churn: 100,000 short-lived processes never grow it.
        for pid in 10..<100_000 as Range<UInt32> {
            _ = cache.identity(of: pid, resolve: identity)
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
