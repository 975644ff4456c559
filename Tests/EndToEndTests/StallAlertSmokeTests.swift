// The shipped stall rule on every kernel of the matrix (scripts/test runs
// this in each QEMU guest too): a trainer whose connection is blackholed
// pages, by its own pid, and resolves once the path is back; a bystander on
// a clean port is never named. Bounds are loose on purpose: under software
// emulation a guest runs many times slower than the host. The timing of
// pages is StallLadderLabTests' concern, on the host.

import Foundation
import XCTest

final class StallAlertSmokeTests: XCTestCase {
    let stalledPort = 5411
    let bystanderPort = 5412
    let chunk = 64 * 1024

    func testABlackholedTrainerPagesByItsPidAndResolves() throws {
        let lab = try NamespaceLab.make(for: self)
        for port in [stalledPort, bystanderPort] {
            _ = try lab.startSink(port: port, extraArguments: ["--ack-every", String(chunk)])
        }
        let agent = try AgentProcess(arguments: ["--port", String(stalledPort), "--port", String(bystanderPort)],
                                     testCase: self)
        func train(_ port: Int) throws -> Int {
            let process = try lab.spawn(inSender: true, ["train", "--to", lab.receiverIPv4, "--port", String(port),
                                                         "--chunk", String(chunk), "--seconds", "120"])
            return try XCTUnwrap(process.readJSON(timeout: 30).int("pid"))
        }
        let trainer = try train(stalledPort)
        let bystander = try train(bystanderPort)
        usleep(2_000_000)
        // Data only: the sink's one-byte acknowledgements still get their
        // ACKs, so only the trainer is held up.
        try lab.dropRandom(port: stalledPort, probability: 1, dataOnly: true)
        func alerts(_ state: String) -> [AgentLine] {
            agent.lines().filter {
                $0.eventType == "alert" && $0.string("rule") == "workload-stalled" && $0.string("state") == state
            }
        }
        var deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !alerts("firing").contains(where: { $0.pid == trainer }) { usleep(200_000) }
        try lab.clearDrops()
        deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !alerts("resolved").contains(where: { $0.pid == trainer }) { usleep(200_000) }
        XCTAssertEqual(agent.stop(), 0)

        let firing = alerts("firing"), resolved = alerts("resolved")
        XCTAssertEqual(firing.map(\.pid), [trainer], firing.map(\.raw).joined(separator: "\n"))
        XCTAssertEqual(resolved.map(\.pid), [trainer], resolved.map(\.raw).joined(separator: "\n"))
        XCTAssertEqual(firing.first?.string("severity"), "critical")
        XCTAssertEqual(firing.first?.string("entity_id"), "network-pid-\(trainer)")
        XCTAssertFalse(agent.lines().contains { $0.eventType == "alert" && $0.pid == bystander },
                       "the bystander is never named")
    }
}
