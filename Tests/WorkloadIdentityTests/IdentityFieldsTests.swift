import XCTest
import ProbeEvents
@testable import WorkloadIdentity

final class IdentityFieldsTests: XCTestCase {
    func identity() throws -> WorkloadIdentity {
        let path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f2c9a1e_5b7d_4c8e_9f01_23456789abcd.slice/"
            + "cri-containerd-" + String(repeating: "ab", count: 32) + ".scope"
        var launcher = LauncherEnvironment()
        launcher.rank = 3
        launcher.localRank = 1
        launcher.worldSize = 4
        launcher.runID = "llama-7b"
        launcher.masterAddress = "10.0.0.1"
        launcher.masterPort = 29500
        return WorkloadIdentity(cgroupPath: path, cgroup: try CgroupWorkload(path: path), launcher: launcher)
    }

    func testFieldsInTheirOrder() throws {
        let path = try identity().cgroupPath!
        XCTAssertEqual(String(decoding: try identity().encodedFields, as: UTF8.self),
                       #","job":"run:llama-7b","rank":3,"local_rank":1,"world_size":4,"container_id":""#
                       + String(repeating: "ab", count: 32) + #"","pod_uid":"3f2c9a1e-5b7d-4c8e-9f01-23456789abcd","#
                       + #""cgroup_path":""# + path + #"""#, "every line: who, in short")
        let text = String(decoding: try identity().encodedIdentityFields, as: UTF8.self)
        XCTAssertEqual(text, #","job":"run:llama-7b","rank":3,"local_rank":1,"world_size":4,"run_id":"llama-7b","#
            + #""master_addr":"10.0.0.1","master_port":29500,"container_id":""# + String(repeating: "ab", count: 32)
            + #"","container_runtime":"containerd","pod_uid":"3f2c9a1e-5b7d-4c8e-9f01-23456789abcd","qos_class":"burstable","#
            + #""systemd_unit":"cri-containerd-"# + String(repeating: "ab", count: 32) + #".scope","cgroup_path":""#
            + (try identity().cgroupPath!) + #"""#)
        XCTAssertEqual(WorkloadIdentity().encodedFields, [], "nothing known: no fields")
    }

    func testReadBackFromItsFields() throws {
        let original = try identity()
        let read = WorkloadIdentity { original.field($0) }
        XCTAssertEqual(read.encodedFields, original.encodedFields)
        XCTAssertEqual(read.job, .run("llama-7b"))
        var slurm = WorkloadIdentity(cgroupPath: "/system.slice/slurmstepd.scope/job_81234/step_0/user/task_0")
        slurm.cgroup = try CgroupWorkload(path: slurm.cgroupPath!)
        slurm.launcher.rank = 5
        XCTAssertEqual(WorkloadIdentity { slurm.field($0) }.encodedFields, slurm.encodedFields)
        XCTAssertEqual(WorkloadIdentity { slurm.field($0) }.job, .slurm(81234))
    }
}

final class ProcessEnvironmentTests: XCTestCase {
    /// A sample laid out as bpf/ark_probe.h's ark_process_environment.
    func sample(pid: UInt32, head: [UInt8], tail: [UInt8], length: UInt32, cgroup: [String] = [],
                truncated: Bool = false) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 1600)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        put(UInt64(42), at: 0)
        put(pid, at: 8)
        put(UInt32(6), at: 16)
        put(length, at: 20)
        put(UInt32(head.count), at: 24)
        put(UInt32(tail.count), at: 28)
        put(UInt8(1), at: 44)
        put(UInt8(cgroup.count), at: 45)
        put(UInt8(truncated ? 1 : 0), at: 46)
        bytes.replaceSubrange(48..<54, with: Array("python".utf8))
        // Innermost first.
        for (level, name) in cgroup.reversed().enumerated() {
            let start = 64 + level * 128
            bytes.replaceSubrange(start..<(start + name.utf8.count), with: Array(name.utf8))
        }
        bytes += head
        if !tail.isEmpty { bytes += [UInt8](repeating: 0, count: 8192 - head.count) + tail }
        return bytes
    }

    func testTheCgroupPathFromItsNames() throws {
        let names = ["kubepods.slice", "kubepods-besteffort.slice", "cri-containerd-" + String(repeating: "ab", count: 32) + ".scope"]
        let decoded = try XCTUnwrap(sample(pid: 7, head: [], tail: [], length: 0, cgroup: names)
            .withUnsafeBytes { ProcessEnvironment(sample: $0) })
        XCTAssertEqual(decoded.cgroupPath, "/" + names.joined(separator: "/"))
        XCTAssertEqual(sample(pid: 7, head: [], tail: [], length: 0).withUnsafeBytes { ProcessEnvironment(sample: $0) }?
            .cgroupPath, "/", "the root cgroup")
        XCTAssertNil(sample(pid: 7, head: [], tail: [], length: 0, cgroup: names, truncated: true)
            .withUnsafeBytes { ProcessEnvironment(sample: $0) }?.cgroupPath, "deeper than the kernel sends: unknown")
    }

    func testDecodesWholeAndSplitBlocks() throws {
        let whole = Array("RANK=1\0".utf8)
        let decoded = try XCTUnwrap(sample(pid: 7, head: whole, tail: [], length: 7).withUnsafeBytes { ProcessEnvironment(sample: $0) })
        XCTAssertEqual(decoded.pid, 7)
        XCTAssertEqual(decoded.head, whole)
        XCTAssertEqual(decoded.tail, [])
        XCTAssertEqual(decoded.command.description, "python")
        let half = [UInt8](repeating: 65, count: 8192)
        let split = try XCTUnwrap(sample(pid: 8, head: half, tail: whole, length: 40_000).withUnsafeBytes { ProcessEnvironment(sample: $0) })
        XCTAssertEqual(split.tail, whole)
        XCTAssertEqual(split.length, 40_000)
    }

    func testShortSamplesAreRefused() {
        var bytes = sample(pid: 7, head: Array("RANK=1\0".utf8), tail: [], length: 7)
        bytes.removeLast(3)
        XCTAssertNil(bytes.withUnsafeBytes { ProcessEnvironment(sample: $0) }, "shorter than head_length says")
        XCTAssertNil([UInt8](repeating: 0, count: 10).withUnsafeBytes { ProcessEnvironment(sample: $0) })
    }
}
