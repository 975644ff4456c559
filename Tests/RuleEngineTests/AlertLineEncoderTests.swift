import ProbeEvents
import XCTest
@testable import RuleEngine
@testable import RuleLanguage

final class AlertLineEncoderTests: XCTestCase {
    /// 2024-03-09T16:00:00Z: `ts` = 1710000000000 + event time in ms.
    let clock = WallClock(offsetNanoseconds: 1_710_000_000_000_000_000)

    func line(_ alert: Alert) -> String {
        var writer = JSONLineWriter()
        AlertLineEncoder(clock: clock).encode(alert, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func alert(state: Alert.State = .firing, time: UInt64 = 1_500_000_000, onset: UInt64 = 1_000_000_000,
               rule: String = "workload-stalled", severity: Severity = .critical, labels: [RuleLabel] = [],
               entity: AlertEntity = .network(pid: 1024), pid: UInt32 = 1024, value: Value = .number(4),
               message: String = "m", evidence: [(name: String, value: Value)] = []) -> Alert {
        Alert(state: state, time: time, onset: onset, rule: rule, severity: severity, labels: labels, entity: entity,
              pid: pid, value: value, message: message, evidence: evidence)
    }

    func testGoldenFiringLine() {
        let firing = alert(
            labels: [RuleLabel(name: "category", value: "network"), RuleLabel(name: "team", value: "ml")],
            message: "task 1024 (python3) is being blocked by network congestion: 6 RTO timeouts",
            evidence: [("backoff", .number(2)), ("comm", .string("python3")), ("held", .number(1.25)),
                       ("peer", .string("10.0.0.2")), ("retransmit_rate", .number(1.2)), ("rtos", .number(6))])
        XCTAssertEqual(line(firing), """
        {"ts":1710000001500,"event_type":"alert","entity_id":"network-pid-1024","pid":1024,"value":"4",\
        "state":"firing","rule":"workload-stalled","severity":"critical",\
        "message":"task 1024 (python3) is being blocked by network congestion: 6 RTO timeouts",\
        "labels":{"category":"network","team":"ml"},"onset":1710000001000,\
        "evidence":{"backoff":2,"comm":"python3","held":1.25,"peer":"10.0.0.2","retransmit_rate":1.2,"rtos":6},\
        "ktime_ns":1500000000}

        """)
    }

    func testGoldenResolvedLineOfAGoneSubject() {
        let resolved = alert(state: .resolved, time: 9_250_000_000, onset: 1_000_000_000, rule: "peer-fan-in",
                             entity: .peer(IPAddress(ipv4: 10, 0, 0, 9)), pid: 0, value: .missing,
                             message: "peer-fan-in no longer holds for peer-10.0.0.9")
        XCTAssertEqual(line(resolved), """
        {"ts":1710000009250,"event_type":"alert","entity_id":"peer-10.0.0.9","pid":0,"value":"",\
        "state":"resolved","rule":"peer-fan-in","severity":"critical",\
        "message":"peer-fan-in no longer holds for peer-10.0.0.9","labels":{},"onset":1710000001000,\
        "evidence":{},"ktime_ns":9250000000}

        """)
    }

    func testEscapingOfMessagesLabelsAndEvidence() {
        let escaped = alert(
            severity: .info,
            labels: [RuleLabel(name: "note", value: "say \"hi\"\\now")],
            message: "line one \"quoted\"\nline two\ttab \\ back\u{1}",
            evidence: [("comm", .string("py\"thon\n")), ("missing", .missing), ("stalled", .boolean(true)),
                       ("third", .number(1.0 / 3)), ("negative", .number(-0.5))])
        XCTAssertEqual(line(escaped), #"""
        {"ts":1710000001500,"event_type":"alert","entity_id":"network-pid-1024","pid":1024,"value":"4","state":"firing","rule":"workload-stalled","severity":"info","message":"line one \"quoted\"\nline two\ttab \\ back\u0001","labels":{"note":"say \"hi\"\\now"},"onset":1710000001000,"evidence":{"comm":"py\"thon\n","stalled":true,"third":0.333,"negative":-0.5},"ktime_ns":1500000000}

        """#)
    }

    func testValueTextForEachKind() {
        let table: [(Value, String)] = [
            (.number(4), "4"), (.number(2.5), "2.5"), (.number(1.0 / 3), "0.333"), (.number(0), "0"),
            (.number(4_026_531_840), "4026531840"), (.string("NETFILTER_DROP"), "NETFILTER_DROP"),
            (.string("a\"b"), "a\"b"), (.boolean(true), "true"), (.boolean(false), "false"), (.missing, ""),
        ]
        for (value, text) in table {
            XCTAssertEqual(value.text, text, "\(value)")
        }
        XCTAssertTrue(line(alert(value: .string("a\"b"))).contains(#""value":"a\"b","#))
    }

    func testEntityIDs() {
        let table: [(AlertEntity, String)] = [
            (.network(pid: 7), "network-pid-7"),
            (.networkNamespace(4_026_531_840), "network-netns-4026531840"),
            (.process(7), "process-pid-7"),
            (.peer(IPAddress(ipv4: 192, 168, 1, 20)), "peer-192.168.1.20"),
            (.peer(IPAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])), "peer-2001:db8::1"),
            (.connection(18_446_744_073_709_551_615), "connection-18446744073709551615"),
            (.kernelDrops(netns: 4_026_531_840, reason: "NETFILTER_DROP"), "kernel-drops-4026531840-NETFILTER_DROP"),
        ]
        for (entity, id) in table {
            XCTAssertTrue(line(alert(entity: entity)).contains(#""entity_id":"\#(id)","pid":"#), id)
        }
    }

    func testSeveritiesAndStates() {
        XCTAssertTrue(line(alert(severity: .warning)).contains(#""state":"firing","rule":"workload-stalled","severity":"warning""#))
        XCTAssertTrue(line(alert(state: .resolved, severity: .info)).contains(#""state":"resolved","rule":"workload-stalled","severity":"info""#))
    }

    func testEveryLineIsOneLine() {
        let text = line(alert(message: "a\nb\r\nc", evidence: [("x", .string("\n"))]))
        XCTAssertEqual(text.filter { $0 == "\n" || $0 == "\r\n" }.count, 1)
        XCTAssertTrue(text.hasSuffix("}\n"))
    }
}
