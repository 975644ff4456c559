// Workload identity and the job-level stall alert, in the namespace lab.
// Two jobs run on this "node" (the sender namespace), each started as
// users start one: a launcher (`ark-lab-traffic launch`) gives its ranks
// the launcher's environment and a barrier after every step, as a
// collective does. Job A: torchrun style, 4 ranks, all in one container
// of a Kubernetes pod named as the systemd cgroup driver names it. Job B:
// Slurm style, 2 ranks, each in its Slurm task cgroup. A bystander runs
// alone in a pod named as the cgroupfs driver names it. Each rank trains
// against its own sink on the other "node" (the receiver namespace); for
// 3 s that node's ingress drops every packet of job A's rank 0.
// Asserted, judged by the ranks' own progress:
// - every line about a process of the jobs carries its job and rank (and
//   its pod, container or Slurm step); the bystander's carry its pod;
// - job A's ranks all stall (rank 0 on the network, ranks 1-3 at the
//   barrier), and job-stalled fires within 1 s of the onset, naming the
//   job, rank 0 as the culprit, its peer, and ranks 1-3 as waiting;
// - it resolves within 3 s of progress returning;
// - job B and the bystander are never named by an alert.
// ARK_JOB_LAB_TRACE=FILE keeps the agent's lines (rules/tests traces).

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class JobIdentityLabTests: XCTestCase {
    let chunk = 256 * 1024
    let runID = "llama-7b-3f2c"
    let podA = "3f2c9a1e-5b7d-4c8e-9f01-23456789abcd"
    let podBystander = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    let containerA = String(repeating: "a1", count: 32)
    let containerBystander = String(repeating: "b2", count: 32)
    let slurmJob = 4242

    static func nowMilliseconds() -> Int { Int(Date().timeIntervalSince1970 * 1000) }

    /// A job's (or the bystander's) processes and their progress reports.
    final class Ranks: @unchecked Sendable {
        let process: LabProcess
        private(set) var rankOfPid: [Int: Int] = [:]
        private(set) var reports: [Int: [(at: Int, steps: Int)]] = [:]
        init(process: LabProcess) { self.process = process }

        func collect() {
            while let line = process.readLine(timeout: 0) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["role"] as? String == "train", let pid = (object["pid"] as? NSNumber)?.intValue else { continue }
                if object["phase"] as? String == "connected" { rankOfPid[pid] = Int(object["rank"] as? String ?? "") ?? -1 }
                if let at = (object["at_ms"] as? NSNumber)?.intValue, let steps = (object["progress"] as? NSNumber)?.intValue {
                    reports[pid, default: []].append((at, steps))
                }
            }
        }

        func waitForRanks(_ count: Int) throws {
            let deadline = Date().addingTimeInterval(20)
            while rankOfPid.count < count, Date() < deadline {
                usleep(50_000)
                collect()
            }
            guard rankOfPid.count == count else {
                throw LabError("\(rankOfPid.count) of \(count) ranks connected: \(process.stderrText)")
            }
        }

        func steps(_ pid: Int, at time: Int) -> Int { reports[pid]?.last { $0.at <= time }?.steps ?? 0 }
        func rate(_ pid: Int, from: Int, to: Int) -> Double {
            Double(steps(pid, at: to) - steps(pid, at: from)) / (Double(to - from) / 1000)
        }
        func progress(_ pid: Int, after time: Int) -> Int? { reports[pid]?.first { $0.at > time }?.at }
    }

    func testJobsCarryTheirIdentityAndAStalledRankPagesItsJob() throws {
        let systemdPod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
            + podA.replacingOccurrences(of: "-", with: "_") + ".slice/cri-containerd-\(containerA).scope"
        let slurmTask = "/system.slice/slurmstepd.scope/job_\(slurmJob)/step_0/user/task_"
        let cgroupfsPod = "/kubepods/besteffort/pod\(podBystander)/\(containerBystander)"
        let cgroups = try makeCgroups([systemdPod, slurmTask + "0", slurmTask + "1", cgroupfsPod])
        let lab = try NamespaceLab.make(for: self)
        let portsA = [5440, 5441, 5442, 5443], portsB = [5450, 5451], bystanderPort = 5460
        for port in portsA + portsB + [bystanderPort] {
            _ = try lab.startSink(port: port, extraArguments: ["--ack-every", String(chunk)])
        }
        let agent = try AgentProcess(arguments: (portsA + portsB + [bystanderPort]).flatMap { ["--port", String($0)] },
                                     testCase: self)
        let healthySeconds = 4.0, stallSeconds = 3.0, afterSeconds = 5.0
        let total = String(Int(healthySeconds + stallSeconds + afterSeconds + 8))
        func train(port: String) -> [String] {
            ["train", "--to", lab.receiverIPv4, "--port", port, "--chunk", String(chunk), "--seconds", total,
             "--report-every", "50", "--compute-ms", "10", "--congestion", "cubic"]
        }
        let jobA = Ranks(process: try lab.spawn(inSender: true, [
            "launch", "--ranks", "4", "--style", "torchrun", "--run-id", runID, "--master", "\(lab.senderIPv4):29500",
            "--cgroup", cgroups.prefix + systemdPod, "--",
        ] + train(port: "544{rank}")))
        let jobB = Ranks(process: try lab.spawn(inSender: true, [
            "launch", "--ranks", "2", "--style", "slurm", "--slurm-job", String(slurmJob),
            "--cgroup", cgroups.prefix + slurmTask + "{rank}", "--",
        ] + train(port: "545{rank}")))
        let bystander = Ranks(process: try lab.spawn(inSender: true, train(port: String(bystanderPort))
            + ["--cgroup", cgroups.prefix + cgroupfsPod]))
        try jobA.waitForRanks(4)
        try jobB.waitForRanks(2)
        try bystander.waitForRanks(1)
        let everyone = [jobA, jobB, bystander]

        usleep(UInt32(healthySeconds * 1_000_000))
        let healthyFrom = Self.nowMilliseconds() - Int(healthySeconds * 1000) + 1000, healthyTo = Self.nowMilliseconds()
        let onset = Self.nowMilliseconds()
        try lab.dropAll(port: portsA[0])
        usleep(UInt32(stallSeconds * 1_000_000))
        try lab.clearDrops()
        let cleared = Self.nowMilliseconds()
        usleep(UInt32(afterSeconds * 1_000_000))
        everyone.forEach { $0.collect() }
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        if let path = ProcessInfo.processInfo.environment["ARK_JOB_LAB_TRACE"] {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: agent.outputPath, toPath: path)
        }

        // The ranks' own progress: job A stalled whole, the rest did not.
        var table = "pid     job          rank  healthy/s  stalled/s\n"
        for (name, ranks) in [("A", jobA), ("B", jobB), ("bystander", bystander)] {
            for (pid, rank) in ranks.rankOfPid.sorted(by: { $0.value < $1.value }) {
                let healthy = ranks.rate(pid, from: healthyFrom, to: healthyTo)
                let stalled = ranks.rate(pid, from: onset + 500, to: cleared)
                table += "\(pid)  \(name.padding(toLength: 11, withPad: " ", startingAt: 0))  \(rank)  "
                    + String(format: "%9.1f  %9.1f", healthy, stalled) + "\n"
                XCTAssertGreaterThan(healthy, 5, "pid \(pid) trained while healthy\n\(table)")
                if ranks === jobA {
                    XCTAssertLessThan(stalled, healthy / 3, "job A's rank \(rank) stalled with rank 0\n\(table)")
                } else {
                    XCTAssertGreaterThan(stalled, healthy / 2, "pid \(pid) of \(name) kept its pace\n\(table)")
                }
            }
        }
        print(table)

        // Identity on every line of the jobs' and the bystander's processes.
        let podLayout = cgroups.prefix + systemdPod
        for line in lines where line.pid > 0 {
            let what = "\(line.eventType) of pid \(line.pid): \(line.raw.prefix(400))"
            if let rank = jobA.rankOfPid[line.pid] {
                XCTAssertEqual(line.string("job"), "run:\(runID)", what)
                XCTAssertEqual(line.int("rank"), rank, what)
                XCTAssertEqual(line.int("world_size"), 4, what)
                XCTAssertEqual(line.string("pod_uid"), podA, what)
                XCTAssertEqual(line.string("container_id"), containerA, what)
                XCTAssertEqual(line.string("cgroup_path"), podLayout, what)
                if line.eventType == "process.identity" {
                    XCTAssertEqual(line.string("container_runtime"), "containerd", what)
                    XCTAssertEqual(line.string("qos_class"), "burstable", what)
                    XCTAssertEqual(line.string("master_addr"), lab.senderIPv4, what)
                }
            } else if let rank = jobB.rankOfPid[line.pid] {
                XCTAssertEqual(line.string("job"), "slurm:\(slurmJob)", what)
                XCTAssertEqual(line.int("rank"), rank, what)
                XCTAssertEqual(line.int("slurm_job"), slurmJob, what)
                XCTAssertEqual(line.string("slurm_step"), "0", what)
                XCTAssertEqual(line.string("cgroup_path"), cgroups.prefix + slurmTask + String(rank), what)
            } else if bystander.rankOfPid[line.pid] != nil {
                XCTAssertEqual(line.string("job"), "pod:\(podBystander)", what)
                XCTAssertNil(line.int("rank"), what)
                XCTAssertEqual(line.string("pod_uid"), podBystander, what)
                if line.eventType == "process.identity" { XCTAssertEqual(line.string("qos_class"), "besteffort", what) }
                XCTAssertEqual(line.string("container_id"), containerBystander, what)
            }
        }
        let rank0 = try XCTUnwrap(jobA.rankOfPid.first { $0.value == 0 }?.key)
        let identified = Set(lines.filter { $0.eventType == "process.identity" }.map(\.pid))
        XCTAssertTrue(identified.isSuperset(of: jobA.rankOfPid.keys), "a process.identity line per rank of job A")
        XCTAssertTrue(identified.isSuperset(of: bystander.rankOfPid.keys), "and of the bystander")
        XCTAssertTrue(identified.isSuperset(of: jobB.rankOfPid.keys), "a process.identity line per rank of job B")
        XCTAssertTrue(lines.contains { $0.eventType == "transport.drop" && $0.pid == rank0 && $0.int("rank") == 0 },
                      "rank 0's retransmits say rank 0")

        // The job alert: within 1 s, naming job, culprit rank, peer and the waiting ranks.
        let alerts = lines.filter { $0.eventType == "alert" }
        for alert in alerts {
            print("  \(alert.string("state") ?? "?") \(alert.string("rule") ?? "?") \(alert.string("entity_id") ?? "?") "
                  + "+\((alert.int("ts") ?? 0) - onset) ms: \(alert.string("message") ?? "")")
        }
        let jobAlerts = alerts.filter { $0.string("rule") == "job-stalled" }
        let firing = try XCTUnwrap(jobAlerts.first { $0.string("state") == "firing" }, "job-stalled fired")
        XCTAssertEqual(firing.string("entity_id"), "job-run:\(runID)")
        XCTAssertEqual(firing.string("job"), "run:\(runID)")
        let delay = try XCTUnwrap(firing.int("ts")) - onset
        XCTAssertLessThanOrEqual(delay, 1000, "job-stalled \(delay) ms after the onset")
        XCTAssertGreaterThanOrEqual(delay, 0, "job-stalled before the onset")
        let evidence = try XCTUnwrap(firing.object["evidence"] as? [String: Any])
        XCTAssertEqual((evidence["culprit_rank"] as? NSNumber)?.intValue, 0)
        XCTAssertEqual((evidence["culprit_pid"] as? NSNumber)?.intValue, rank0)
        XCTAssertEqual(evidence["peer"] as? String, lab.receiverIPv4)
        XCTAssertEqual(evidence["waiting_ranks"] as? String, "1-3")
        XCTAssertEqual((evidence["ranks"] as? NSNumber)?.intValue, 4)
        let message = try XCTUnwrap(firing.string("message"))
        XCTAssertTrue(message.hasPrefix("job run:\(runID) is stalled by the network on this node: rank 0 (task \(rank0)"), message)
        XCTAssertTrue(message.contains("blocked on peer \(lab.receiverIPv4)"), message)
        XCTAssertTrue(message.hasSuffix("ranks waiting: 1-3"), message)
        // Resolved within 3 s of rank 0's progress returning.
        let back = try XCTUnwrap(jobA.progress(rank0, after: cleared), "rank 0 made progress after the loss")
        let resolved = try XCTUnwrap(jobAlerts.first { $0.string("state") == "resolved" }, "job-stalled resolved")
        XCTAssertLessThanOrEqual(try XCTUnwrap(resolved.int("ts")) - back, 3000)
        XCTAssertEqual(jobAlerts.filter { $0.string("state") == "firing" }.count, 1, "one page for one stall")

        // The second job and the bystander: untouched.
        let untouched = Set(jobB.rankOfPid.keys).union(bystander.rankOfPid.keys)
        XCTAssertFalse(alerts.contains { untouched.contains($0.pid) }, "job B and the bystander are never named")
        XCTAssertFalse(alerts.contains { $0.string("job") == "slurm:\(slurmJob)" || $0.string("job") == "pod:\(podBystander)" })
    }
}
