import XCTest
@testable import WorkloadIdentity

final class LauncherEnvironmentTests: XCTestCase {
    func block(_ entries: [String]) -> [UInt8] {
        entries.flatMap { Array($0.utf8) + [0] }
    }

    func launcher(rank: UInt32? = nil, localRank: UInt32? = nil, worldSize: UInt32? = nil, groupRank: UInt32? = nil,
                  runID: String? = nil, master: (String, UInt16)? = nil, masterAddress: String? = nil,
                  masterPort: UInt16? = nil, slurmJob: UInt64? = nil, role: String? = nil) -> LauncherEnvironment {
        var value = LauncherEnvironment()
        value.rank = rank
        value.localRank = localRank
        value.worldSize = worldSize
        value.groupRank = groupRank
        value.runID = runID
        value.masterAddress = master?.0 ?? masterAddress
        value.masterPort = master?.1 ?? masterPort
        value.slurmJob = slurmJob
        value.role = role
        return value
    }

    func testLaunchers() {
        let table: [(name: String, environment: [String], expected: LauncherEnvironment)] = [
            ("torchrun", ["PATH=/usr/bin", "RANK=3", "LOCAL_RANK=1", "WORLD_SIZE=4", "GROUP_RANK=1",
                          "TORCHELASTIC_RUN_ID=3f2c9a", "MASTER_ADDR=10.0.0.1", "MASTER_PORT=29500", "SECRET=x"],
             launcher(rank: 3, localRank: 1, worldSize: 4, groupRank: 1, runID: "3f2c9a", master: ("10.0.0.1", 29500))),
            ("srun", ["SLURM_JOB_ID=81234", "SLURM_PROCID=5", "SLURM_LOCALID=1", "SLURM_NTASKS=8"],
             launcher(rank: 5, localRank: 1, worldSize: 8, slurmJob: 81234)),
            ("Open MPI", ["OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_LOCAL_RANK=0", "OMPI_COMM_WORLD_SIZE=16"],
             launcher(rank: 2, localRank: 0, worldSize: 16)),
            ("MPICH / Hydra", ["PMI_RANK=7", "PMI_SIZE=8"], launcher(rank: 7, worldSize: 8)),
            ("MindSpore", ["RANK_ID=1", "RANK_SIZE=8", "MS_ROLE=MS_WORKER"], launcher(rank: 1, worldSize: 8, role: "MS_WORKER")),
            ("torchrun under srun: torchrun's RANK wins", ["SLURM_PROCID=0", "RANK=9", "SLURM_JOB_ID=5"],
             launcher(rank: 9, slurmJob: 5)),
            ("not a launcher", ["HOME=/root", "PATH=/bin"], launcher()),
            ("a rank that is not a number falls back", ["RANK=zero", "PMI_RANK=4"], launcher(rank: 4)),
            ("an over-long run id is left out", ["TORCHELASTIC_RUN_ID=" + String(repeating: "a", count: 200)], launcher()),
            ("control characters are left out", ["MASTER_ADDR=a\u{1}b", "MASTER_PORT=1"], launcher(masterPort: 1)),
            ("a port out of range", ["MASTER_ADDR=h", "MASTER_PORT=70000"], launcher(masterAddress: "h")),
            ("an empty value and no '='", ["RANK=", "WORLD_SIZE"], launcher()),
        ]
        for entry in table {
            XCTAssertEqual(LauncherEnvironment(block: block(entry.environment)), entry.expected, entry.name)
        }
    }

    func testATruncatedLastEntryAndArbitraryBytesNeverCrash() {
        var bytes = block(["RANK=1", "WORLD_SIZE=2"])
        bytes.removeLast(2)
        XCTAssertEqual(LauncherEnvironment(block: bytes).worldSize, nil, "WORLD_SIZE= cut short is not 2")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let random = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = LauncherEnvironment(block: block(["RANK=1"]) + random)
        }
    }

    func testJobKeyTakesTheMostSpecificIdentity() throws {
        var cgroup = CgroupWorkload()
        cgroup.podUID = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
        cgroup.slurmJob = 77
        XCTAssertEqual(JobKey(launcher: launcher(runID: "r1", master: ("m", 1)), cgroup: cgroup)?.description, "run:r1")
        XCTAssertEqual(JobKey(launcher: launcher(slurmJob: 5), cgroup: cgroup)?.description, "slurm:5")
        XCTAssertEqual(JobKey(launcher: launcher(), cgroup: cgroup)?.description, "slurm:77")
        cgroup.slurmJob = nil
        XCTAssertEqual(JobKey(launcher: launcher(master: ("m", 1)), cgroup: cgroup)?.description,
                       "pod:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
        XCTAssertEqual(JobKey(launcher: launcher(master: ("10.0.0.1", 29500)), cgroup: CgroupWorkload())?.description,
                       "rdzv:10.0.0.1:29500")
        XCTAssertNil(JobKey(launcher: launcher(rank: 1), cgroup: CgroupWorkload()))
    }
}

final class LauncherEnvironmentHeadAndTailTests: XCTestCase {
    func block(_ entries: [String]) -> [UInt8] {
        entries.flatMap { Array($0.utf8) + [0] }
    }

    /// A block too long to send whole: the kernel sends its first and last
    /// halves, and entries cut at the gap must not be read as others.
    func testEntriesCutAtTheGapAreDropped() {
        let whole = block(["RANK=12", "HOME=/root", "XWORLD_SIZE=9", "WORLD_SIZE=16", "LOCAL_RANK=3"])
        // Head ends inside "RANK=12" after "RANK=1"; tail starts inside "XWORLD_SIZE=9" at "WORLD_SIZE=9".
        let head = Array(whole[0..<6])
        let tailStart = whole.count - Array("WORLD_SIZE=9\0WORLD_SIZE=16\0LOCAL_RANK=3\0".utf8).count
        let tail = Array(whole[tailStart...])
        let launcher = LauncherEnvironment(head: head, tail: tail)
        XCTAssertNil(launcher.rank, "RANK=1 is a cut RANK=12")
        XCTAssertEqual(launcher.worldSize, 16, "the cut XWORLD_SIZE=9 is not WORLD_SIZE")
        XCTAssertEqual(launcher.localRank, 3)
    }

    func testAHeadEndingOnAnEntryBoundaryKeepsItsLastEntry() {
        let launcher = LauncherEnvironment(head: block(["RANK=2"]), tail: block(["X=1", "WORLD_SIZE=4"]))
        XCTAssertEqual(launcher.rank, 2)
        XCTAssertEqual(launcher.worldSize, 4, "the tail's first entry is dropped (it may be cut), then WORLD_SIZE read")
    }
}
