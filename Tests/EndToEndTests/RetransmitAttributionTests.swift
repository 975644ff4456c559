// The probe against the kernel's ground truth: per-process retransmitted
// segments reported by ark-probe must equal TCP_INFO.tcpi_total_retrans of
// each sender's socket, read after every byte was acknowledged and before
// close (the lab drops only data packets, so no FIN is ever retransmitted).

import Foundation
import XCTest

final class RetransmitAttributionTests: XCTestCase {
    let port = 5201
    let bytes = 8 * 1024 * 1024

    struct Sender {
        let pid: Int
        let totalRetrans: Int
    }

    /// Runs `count` senders at once and returns what each one's TCP_INFO said.
    /// `launcher`: sender i runs with RANK=i of a torchrun job of `count`
    /// ranks whose run id is this (the identity the kernel copies).
    func send(in lab: NamespaceLab, to address: String, count: Int, extra: [String] = [],
              launcher runID: String? = nil) throws -> [Sender] {
        let processes = try (0..<count).map { rank in
            try lab.spawn(inSender: true, ["send", "--to", address, "--port", String(port),
                                           "--bytes", String(bytes)] + extra,
                          environment: runID.map { ["RANK=\(rank)", "WORLD_SIZE=\(count)", "TORCHELASTIC_RUN_ID=\($0)"] } ?? [])
        }
        return try processes.map { process in
            let result = try process.readJSON(timeout: 90)
            process.waitForExit(timeout: 10)
            return Sender(pid: try XCTUnwrap(result.int("pid")), totalRetrans: try XCTUnwrap(result.int("total_retrans")))
        }
    }

    /// Asserts exact per-pid equality and prints the comparison table.
    /// With `atLeast`, ark-probe may count more than TCP_INFO (the kprobe
    /// hook sees attempts the kernel then did not send).
    func assertMatches(_ senders: [Sender], _ lines: [AgentLine], agent: AgentProcess, title: String,
                       attribution: String = "socket", atLeast: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) {
        let reported = agent.retransmittedSegments(in: lines)
        var table = "\(title)\n     pid  tcpi_total_retrans  ark-probe segments  events\n"
        for sender in senders {
            let events = lines.filter { $0.eventType == "transport.drop" && $0.pid == sender.pid }
            table += String(format: "%8d  %18d  %18d  %6d\n", sender.pid, sender.totalRetrans,
                            reported[sender.pid] ?? 0, events.count)
            if atLeast {
                XCTAssertGreaterThanOrEqual(reported[sender.pid] ?? 0, sender.totalRetrans,
                                            "pid \(sender.pid): ark-probe vs TCP_INFO", file: file, line: line)
            } else {
                XCTAssertEqual(reported[sender.pid] ?? 0, sender.totalRetrans,
                               "pid \(sender.pid): ark-probe vs TCP_INFO", file: file, line: line)
            }
            for event in events {
                XCTAssertEqual(event.string("attribution"), attribution, event.raw, file: file, line: line)
                XCTAssertEqual(event.string("comm"), "ark-lab-traffic", event.raw, file: file, line: line)
            }
        }
        print(table)
        XCTAssertGreaterThan(senders.reduce(0) { $0 + $1.totalRetrans }, 0,
                             "the lab dropped nothing: the comparison proves nothing", file: file, line: line)
    }

    func testIPv4SendersAreAttributedExactly() throws {
        let lab = try NamespaceLab.make(for: self)
        let sink = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        // The senders run in a pod's container cgroup, as the systemd driver names it.
        let pod = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", container = String(repeating: "c3", count: 32)
        let podPath = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
            + pod.replacingOccurrences(of: "-", with: "_") + ".slice/cri-containerd-\(container).scope"
        let cgroups = try makeCgroups([podPath])
        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        let senders = try send(in: lab, to: lab.receiverIPv4, count: 3, extra: ["--cgroup", cgroups.prefix + podPath],
                               launcher: "matrix-job")
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        assertMatches(senders, lines, agent: agent, title: "IPv4, 3 senders, 5% data drops")
        // Only leaving Loss and CWR's changes are sent; the kernel counts the rest.
        for line in lines where line.eventType == "transport.congestion" {
            let changes = [line.string("previous_ca_state"), line.string("value")]
            XCTAssertTrue(changes[0] == "loss" || changes.contains("cwr"), line.raw)
        }
        // Each sender's launcher environment and cgroup path, read by the
        // kernel at its connect: on its identity line and on every line.
        for (rank, sender) in senders.enumerated() {
            let own = lines.filter { $0.pid == sender.pid }
            XCTAssertEqual(own.filter { $0.eventType == "process.identity" }.count, 1, "one identity line for pid \(sender.pid)")
            for line in own {
                XCTAssertEqual(line.string("job"), "run:matrix-job", line.raw)
                XCTAssertEqual(line.int("rank"), rank, line.raw)
                XCTAssertEqual(line.int("world_size"), 3, line.raw)
                XCTAssertEqual(line.string("cgroup_path"), cgroups.prefix + podPath, line.raw)
                XCTAssertEqual(line.string("pod_uid"), pod, line.raw)
                XCTAssertEqual(line.string("container_id"), container, line.raw)
                if line.eventType == "process.identity" { XCTAssertEqual(line.string("qos_class"), "besteffort", line.raw) }
            }
        }
        // The socket's timing, which dates a stall: an RTO is never below
        // the kernel's 200 ms floor, and exceeds the smoothed RTT by it.
        for event in lines where event.eventType == "transport.drop" && senders.contains(where: { $0.pid == event.pid }) {
            let srtt = try XCTUnwrap(event.int("srtt_us"), event.raw), rto = try XCTUnwrap(event.int("rto_us"), event.raw)
            XCTAssertGreaterThan(srtt, 0, event.raw)
            XCTAssertGreaterThanOrEqual(rto, srtt + 200_000, event.raw)
        }

        // Every packet iptables dropped is a kernel drop the probe saw, with
        // the reason named from kernel BTF, in the receiver's namespace. Early
        // demux has found the receiving socket before netfilter's INPUT
        // hook, so the drop belongs to the sink that accepted the connection.
        let receiver = try namespaceInode(lab.receiverNamespace)
        let drops = lines.filter {
            $0.eventType == "transport.kernel_drop" && $0.int("netns") == receiver
                && $0.string("reason") == "NETFILTER_DROP"
        }
        guard lines.first?.feature("drops")?["state"] != "off" else {
            // Kernels before 5.17 give kfree_skb no reason: the feature is off.
            XCTAssertTrue(lines.allSatisfy { $0.eventType != "transport.kernel_drop" })
            return
        }
        XCTAssertEqual(drops.count, try lab.droppedPackets())
        for drop in drops {
            XCTAssertEqual(drop.pid, Int(sink.pid), drop.raw)
            // Inherited from the listener, which the start-up walk found.
            XCTAssertEqual(drop.string("attribution"), "existing-socket", drop.raw)
            XCTAssertEqual(drop.int("sport"), port, "the receiving socket's own port")
            XCTAssertEqual(drop.string("saddr"), lab.receiverIPv4)
        }
    }

    /// `--disable launcher-environment`: no environment is read, neither
    /// by the kernel nor from /proc; the cgroup still is.
    func testWithLauncherEnvironmentsOffNoRankIsRead() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let agent = try AgentProcess(arguments: ["--port", String(port), "--disable", "launcher-environment"], testCase: self)
        let senders = try send(in: lab, to: lab.receiverIPv4, count: 2, launcher: "private-job")
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        assertMatches(senders, lines, agent: agent, title: "IPv4, 2 senders, launcher environments off")
        for line in lines where senders.contains(where: { $0.pid == line.pid }) {
            XCTAssertNil(line.object["rank"], line.raw)
            XCTAssertNil(line.object["job"], line.raw)
            XCTAssertNotNil(line.string("cgroup_path"), line.raw)
        }
    }

    func testIPv6SendersAreAttributedExactly() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        let senders = try send(in: lab, to: lab.receiverIPv6, count: 2)
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        assertMatches(senders, lines, agent: agent, title: "IPv6, 2 senders, 5% data drops")
        for event in lines where event.eventType == "transport.drop" && senders.contains(where: { $0.pid == event.pid }) {
            XCTAssertEqual(event.string("family"), "ipv6")
            XCTAssertEqual(event.string("daddr"), lab.receiverIPv6)
            XCTAssertEqual(event.string("saddr"), lab.senderIPv6)
        }
    }

    func testThreadsSharingASocketCountForTheirProcess() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        let senders = try send(in: lab, to: lab.receiverIPv4, count: 1, extra: ["--threads", "4"])
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        assertMatches(senders, lines, agent: agent, title: "IPv4, 1 process, 4 threads on one socket")
        let pids = Set(lines.filter { $0.eventType == "transport.drop" }.map(\.pid))
        XCTAssertEqual(pids, Set(senders.map(\.pid)), "pid is the thread-group id, never a thread's id")
    }

    /// A socket whose owner keeps sending gets a copy of its owner in socket
    /// storage, which the retransmit hook reads instead of the owner table.
    /// A process that takes the socket over (a forked child writing on it)
    /// claims it on its first send, and that claim must clear the copy: the
    /// child writes once, so the copy would otherwise stay the parent's, and
    /// every packet it sends is dropped for a while, so it retransmits by
    /// RTO. The parent's data is all acknowledged before the fork and none of
    /// it is dropped: no retransmit straddles the handover.
    func testASocketHandedToAnotherProcessIsItsAfterTheHandover() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        let parentBytes = bytes / 2
        let process = try lab.spawn(inSender: true, ["send", "--to", lab.receiverIPv4, "--port", String(port),
                                                     "--bytes", String(parentBytes + 4000),
                                                     "--hand-over-after", String(parentBytes)])
        let handedOver = try process.readJSON(timeout: 60)
        XCTAssertEqual(handedOver.string("phase"), "handed-over", handedOver.raw)
        try lab.dropRandom(port: port, probability: 1, dataOnly: true)
        try process.writeLine("go")
        // RTOs at about 0.2, 0.6 and 1.4 s; the one after the rules go gets through.
        Thread.sleep(forTimeInterval: 1.5)
        try lab.clearDrops()
        let child = try process.readJSON(timeout: 60), parent = try process.readJSON(timeout: 30)
        process.waitForExit(timeout: 10)
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        let parentSender = Sender(pid: try XCTUnwrap(parent.int("pid")), totalRetrans: try XCTUnwrap(parent.int("total_retrans")))
        let childSender = Sender(pid: try XCTUnwrap(child.int("pid")), totalRetrans: try XCTUnwrap(child.int("total_retrans")))
        XCTAssertEqual(parent.int("handed_over_to"), childSender.pid)
        XCTAssertEqual(handedOver.int("pid"), childSender.pid)
        XCTAssertGreaterThan(childSender.totalRetrans, 0, "nothing retransmitted after the handover: the test proves nothing")
        if lines.first?.feature("owners-on-send")?["state"] == "on" {
            assertMatches([parentSender, childSender], lines, agent: agent, title: "one socket, handed to a child")
        } else {
            // Without a send hook nothing claims for the child, which only
            // writes: the process that connected keeps the socket.
            let both = Sender(pid: parentSender.pid, totalRetrans: parentSender.totalRetrans + childSender.totalRetrans)
            assertMatches([both], lines, agent: agent, title: "one socket, handed to a child (no send hook)")
            XCTAssertNil(agent.retransmittedSegments(in: lines)[childSender.pid])
        }
    }

    func testSYNRetransmitsOfAConnectToADroppedPort() throws {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropAll(port: port)
        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        let process = try lab.spawn(inSender: true, ["connect-timeout", "--to", lab.receiverIPv4,
                                                     "--port", String(port), "--wait", "3.5"])
        let result = try process.readJSON(timeout: 20)
        let sender = Sender(pid: try XCTUnwrap(result.int("pid")), totalRetrans: try XCTUnwrap(result.int("total_retrans")))
        XCTAssertEqual(agent.stop(), 0)
        let lines = agent.lines()
        assertMatches([sender], lines, agent: agent, title: "SYN retransmits, connect to a dropped port")
        let linear = try lab.sysctl("net.ipv4.tcp_syn_linear_timeouts").flatMap(Int.init) ?? 0
        XCTAssertEqual(sender.totalRetrans, linear >= 3 ? 3 : 2, "SYNs at 1, 2, 3 s (linear) or 1, 3 s")
        for event in lines where event.eventType == "transport.drop" && event.pid == sender.pid {
            XCTAssertEqual(event.string("cause"), "syn", event.raw)
            XCTAssertEqual(event.string("tcp_state"), "SYN_SENT", event.raw)
        }
    }

    /// A training job is usually running before its probe: its socket was
    /// created, and written to, before the agent started, and is never
    /// written to again after. The start-up walk of open sockets finds it.
    func testASenderRunningBeforeTheAgentStartedIsAttributed() throws {
        let lab = try NamespaceLab.make(for: self)
        let sink = try lab.startSink(port: port, waitForGo: true)
        let sender = try lab.spawn(inSender: true, ["send", "--to", lab.receiverIPv4, "--port", String(port),
                                                    "--bytes", String(bytes), "--prefill"])
        _ = try sender.readJSON(timeout: 30)

        let agent = try AgentProcess(arguments: ["--port", String(port)], testCase: self)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        try sink.writeLine("go")
        try sender.writeLine("go")
        // From "go" on, on both sides: a tail loss probe may come while the
        // agent starts (seconds under emulation), before or after it attached.
        let go = try sender.readJSON(timeout: 30)
        let before = try XCTUnwrap(go.int("total_retrans"))
        let goTime = try XCTUnwrap(go.int("monotonic_ns"))
        let final = try sender.readJSON(timeout: 90)
        let pid = try XCTUnwrap(final.int("pid"))
        let expected = Sender(pid: pid, totalRetrans: try XCTUnwrap(final.int("total_retrans")) - before)
        XCTAssertEqual(agent.stop(), 0)
        let afterGo = agent.lines().filter { ($0.int("ktime_ns") ?? 0) >= goTime }
        assertMatches([expected], afterGo, agent: agent,
                      title: "sender started before the agent (prefill, then no send)",
                      attribution: "existing-socket")
    }

    /// Two IPv4 senders through 5% data loss, the agent started with
    /// `agentArguments`: what each sender's TCP_INFO said, the agent's lines,
    /// and the senders' namespace inode.
    func twoSenders(agentArguments: [String]) throws -> (senders: [Sender], lines: [AgentLine], agent: AgentProcess,
                                                           senderNamespace: Int) {
        let lab = try NamespaceLab.make(for: self)
        _ = try lab.startSink(port: port)
        try lab.dropRandom(port: port, probability: 0.05, dataOnly: true)
        let agent = try AgentProcess(arguments: ["--port", String(port)] + agentArguments, testCase: self)
        let senders = try send(in: lab, to: lab.receiverIPv4, count: 2)
        XCTAssertEqual(agent.stop(), 0)
        return (senders, agent.lines(), agent, try namespaceInode(lab.senderNamespace))
    }

    /// The classic-tracepoint retransmit hook finds the owners the claim
    /// hooks recorded, as tp_btf does: exact per process.
    func testTracepointRetransmitHookUsesTheClaimedOwners() throws {
        let run = try twoSenders(agentArguments: ["--attach", "tracepoint"])
        XCTAssertEqual(run.lines.first?.string("value"), "tracepoint")
        assertMatches(run.senders, run.lines, agent: run.agent, title: "IPv4, 2 senders, tracepoint retransmit hook")
    }

    /// The kprobe retransmit hook, where the kernel has kprobes (Debian's
    /// kernels of the matrix do; this machine's does not), finds the same
    /// owners. It runs on entry to tcp_retransmit_skb(), before the kernel
    /// knows whether it will send (TSQ, memory), so it counts attempts: at
    /// least TCP_INFO's count, every event on the right process.
    func testKprobeRetransmitHookUsesTheClaimedOwners() throws {
        let probe = try NamespaceLab.run([NamespaceLab.productURL(named: "ark-probe").path, "features", "--attach", "kprobe"],
                                         check: false)
        if probe.status != 0 && probe.stderr.contains("no kprobe support") {
            throw XCTSkip("this kernel has no kprobes (CONFIG_KPROBES): \(probe.stderr)")
        }
        let run = try twoSenders(agentArguments: ["--attach", "kprobe"])
        XCTAssertEqual(run.lines.first?.string("value"), "kprobe")
        assertMatches(run.senders, run.lines, agent: run.agent, title: "IPv4, 2 senders, kprobe retransmit hook",
                      atLeast: true)
        let pids = Set(run.lines.filter { $0.eventType == "transport.drop" && $0.int("netns") == run.senderNamespace }
            .map(\.pid))
        XCTAssertEqual(pids, Set(run.senders.map(\.pid)), "every retransmit of the lab on a sender")
    }

    /// Without any claim hook, the task on the CPU stands in: counts stay
    /// exact per namespace, and every event says its owner is degraded.
    func testWithoutOwnerClaimsTheTaskOnTheCPUStandsInAndSaysSo() throws {
        let claims = "owners-on-state-change,owners-on-send,owners-on-receive,existing-sockets"
        let run = try twoSenders(agentArguments: ["--disable", claims])
        XCTAssertEqual(run.lines.first?.string("attribution"), "current-task")
        let events = run.lines.filter { $0.eventType == "transport.drop" && $0.int("netns") == run.senderNamespace }
        XCTAssertEqual(events.reduce(0) { $0 + $1.valueNumber }, run.senders.reduce(0) { $0 + $1.totalRetrans })
        XCTAssertTrue(events.allSatisfy { $0.string("attribution") == "current-task" })
    }
}
