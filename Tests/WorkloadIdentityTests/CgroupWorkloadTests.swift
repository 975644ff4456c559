import XCTest
@testable import WorkloadIdentity

/// Paths as the runtimes write them (their documentation and /proc/PID/cgroup
/// on real nodes), and paths that cannot be cgroups.
final class CgroupWorkloadTests: XCTestCase {
    static let id = String(repeating: "0123456789abcdef", count: 4)
    static let uid = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    static let systemdUID = uid.replacingOccurrences(of: "-", with: "_")

    func workload(container: String? = nil, runtime: CgroupWorkload.Runtime? = nil, pod: String? = nil,
                  qos: CgroupWorkload.QoSClass? = nil, job: UInt64? = nil, step: String? = nil,
                  unit: String? = nil) -> CgroupWorkload {
        var workload = CgroupWorkload()
        workload.containerID = container
        workload.runtime = runtime
        workload.podUID = pod
        workload.qosClass = qos
        workload.slurmJob = job
        workload.slurmStep = step
        workload.systemdUnit = unit
        return workload
    }

    func testRealLayouts() throws {
        let id = Self.id, uid = Self.uid, sid = Self.systemdUID
        let table: [(name: String, path: String, expected: CgroupWorkload)] = [
            ("containerd, systemd driver, burstable",
             "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(sid).slice/cri-containerd-\(id).scope",
             workload(container: id, runtime: .containerd, pod: uid, qos: .burstable, unit: "cri-containerd-\(id).scope")),
            ("containerd, systemd driver, guaranteed",
             "/kubepods.slice/kubepods-pod\(sid).slice/cri-containerd-\(id).scope",
             workload(container: id, runtime: .containerd, pod: uid, qos: .guaranteed, unit: "cri-containerd-\(id).scope")),
            ("CRI-O, systemd driver, best effort",
             "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(sid).slice/crio-\(id).scope",
             workload(container: id, runtime: .crio, pod: uid, qos: .bestEffort, unit: "crio-\(id).scope")),
            ("CRI-O's conmon is not the container",
             "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(sid).slice/crio-conmon-\(id).scope",
             workload(pod: uid, qos: .bestEffort, unit: "crio-conmon-\(id).scope")),
            ("cgroupfs driver, burstable", "/kubepods/burstable/pod\(uid)/\(id)",
             workload(container: id, pod: uid, qos: .burstable)),
            ("cgroupfs driver, guaranteed", "/kubepods/pod\(uid)/\(id)", workload(container: id, pod: uid, qos: .guaranteed)),
            ("cgroupfs driver, the pod's own cgroup", "/kubepods/besteffort/pod\(uid)", workload(pod: uid, qos: .bestEffort)),
            ("kind: kubelet-kubepods under kubelet.slice",
             "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod\(sid).slice/cri-containerd-\(id).scope",
             workload(container: id, runtime: .containerd, pod: uid, qos: .burstable, unit: "cri-containerd-\(id).scope")),
            ("Docker, systemd driver", "/system.slice/docker-\(id).scope",
             workload(container: id, runtime: .docker, unit: "docker-\(id).scope")),
            ("Docker, cgroupfs driver", "/docker/\(id)", workload(container: id, runtime: .docker)),
            ("rootless Podman", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-\(id).scope",
             workload(container: id, runtime: .podman, unit: "libpod-\(id).scope")),
            ("Slurm step", "/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0",
             workload(job: 4242, step: "0", unit: "slurmstepd.scope")),
            ("Slurm batch step", "/system.slice/slurmstepd.scope/job_7/step_batch/user/task_1",
             workload(job: 7, step: "batch", unit: "slurmstepd.scope")),
            ("a service", "/system.slice/nginx.service", workload(unit: "nginx.service")),
            ("a login session", "/user.slice/user-1000.slice/session-3.scope", workload(unit: "session-3.scope")),
            ("the root cgroup", "/", workload()),
            ("a trailing slash", "/system.slice/nginx.service/", workload(unit: "nginx.service")),
            ("a scope that only looks like a container", "/system.slice/docker-xyz.scope", workload(unit: "docker-xyz.scope")),
            ("not a pod UID", "/kubepods/pod123/\(id)", workload(qos: .guaranteed)),
            ("a job number that is not one", "/system.slice/slurmstepd.scope/job_x/step_0",
             workload(unit: "slurmstepd.scope")),
            ("upper-case UUID from a hand-made path", "/kubepods/pod\(uid.uppercased())", workload(pod: uid, qos: .guaranteed)),
        ]
        for entry in table {
            XCTAssertEqual(try CgroupWorkload(path: entry.path), entry.expected, entry.name)
        }
    }

    func testBadPathsSayWhereTheyAreWrong() {
        let table: [(path: String, problem: CgroupPathError.Problem, offset: Int, message: String)] = [
            ("", .notAbsolute, 0, "a cgroup path starts with '/'"),
            ("kubepods/pod1", .notAbsolute, 0, "a cgroup path starts with '/'"),
            ("/system.slice//nginx.service", .emptyComponent, 14, "an empty component ('//') at byte 14"),
            ("/system.slice/a\nb", .controlCharacter, 15, "a control character at byte 15"),
            ("/" + String(repeating: "a", count: 5000), .tooLong, 4096, "longer than 4096 bytes (PATH_MAX), at byte 4096"),
        ]
        for entry in table {
            XCTAssertThrowsError(try CgroupWorkload(path: entry.path), entry.path) { error in
                let error = error as? CgroupPathError
                XCTAssertEqual(error?.problem, entry.problem, entry.path)
                XCTAssertEqual(error?.offset, entry.offset, entry.path)
                XCTAssertEqual(error?.description, entry.message, entry.path)
            }
        }
    }

    /// Any bytes: an error or a workload, never a crash.
    func testArbitraryPathsNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["/", "kubepods", ".slice", "-pod", "pod", "cri-containerd-", ".scope", "job_", "step_", Self.id,
                      Self.uid, Self.systemdUID, "burstable", "docker", "\u{0}", "é", "_", "-", "9"]
        for _ in 0..<20_000 {
            let path = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            _ = try? CgroupWorkload(path: path)
        }
    }
}
