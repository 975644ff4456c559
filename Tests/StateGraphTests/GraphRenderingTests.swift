import ProbeEvents
import WorkloadIdentity
import XCTest
@testable import StateGraph

final class GraphRenderingTests: XCTestCase {
    /// A job's processes are drawn in one box, its ranks that wait on
    /// nothing too; the JSON lists the job's processes by rank.
    func testProcessesAreGroupedByJob() {
        var graph = StateGraph()
        var changes: [GraphChange] = []
        for (pid, rank) in [(11, 1), (10, 0)] as [(UInt32, UInt32)] {
            var identity = WorkloadIdentity()
            identity.launcher.runID = "llama"
            identity.launcher.rank = rank
            graph.identify(pid, as: identity, command: Command("python3"))
        }
        graph.apply(retransmit(pid: 10, at: 1), changes: &changes)
        graph.apply(retransmit(pid: 20, at: 1, cookie: 2), changes: &changes)
        let dot = graph.dot(at: 2 * second)
        XCTAssertTrue(dot.contains("""
              subgraph "cluster_job_0" {
                label="job run:llama";
                style=rounded;
                "process-pid-10" [shape=box,label="10 trainer\\nrank 0"];
                "process-pid-11" [shape=box,label="11 python3\\nrank 1"];
              }
            """), dot)
        XCTAssertTrue(dot.contains("  \"process-pid-20\" [shape=box,label=\"20 trainer\"];\n"), "no job: outside any box\n\(dot)")
        let json = graph.json(at: 2 * second)
        XCTAssertTrue(json.contains(#""jobs":[{"job":"run:llama","processes":[{"pid":10,"rank":0,"waits_on_network":true,"#), json)
        XCTAssertTrue(json.contains(#"{"pid":11,"rank":1,"waits_on_network":false,"blocked_1s":0}]}]"#), json)
        XCTAssertTrue(json.contains(#""pid":10,"comm":"trainer","cgroup_id":0,"job":"run:llama","rank":0,"waits_on":"#), json)
    }
}
