import ProbeEvents
import RuleLanguage
import StateGraph
import XCTest
@testable import RuleEngine

// Event time in these tests is written in milliseconds (integers, so no
// floating-point rounding moves an event across a bucket boundary).

/// Nanoseconds of `milliseconds`.
func ms(_ milliseconds: UInt64) -> UInt64 { milliseconds * 1_000_000 }

let secondNanoseconds: UInt64 = 1_000_000_000

/// The network namespace of the synthetic drops.
let hostNetns: UInt32 = 4_026_531_840

/// Drop reason names as the kernel's BTF would give them.
let testDropReasons: [UInt32: String] = [5: "NETFILTER_DROP", 7: "TCP_CSUM", 9: "SOCKET_FILTER"]

/// A TCP retransmission of `pid` on connection `cookie` to 10.0.0.`peer`.
func retransmit(pid: UInt32, at milliseconds: UInt64, cookie: UInt64 = 1, peer: UInt8 = 2, sport: UInt16 = 40000,
                segments: UInt32 = 1, cause: RetransmitCause = .fastRetransmit, state: CongestionState = .recovery,
                error: Int32 = 0, backoff: UInt8 = 0, comm: String = "trainer") -> ProbeEvent {
    ProbeEvent(kind: .retransmit, monotonicNanoseconds: ms(milliseconds),
               owner: SocketOwner(pid: pid, tid: pid, uid: 1000, cgroupID: 77, command: Command(comm), source: .socket),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: sport,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, peer), remotePort: 29500,
                                      state: .established),
               socketCookie: cookie, networkNamespace: hostNetns, segments: segments, error: error, cause: cause,
               congestionState: state, backoff: backoff)
}

/// An RTO retransmission (CA state Loss).
func rto(pid: UInt32, at milliseconds: UInt64, cookie: UInt64 = 1, peer: UInt8 = 2, segments: UInt32 = 1,
         backoff: UInt8 = 1) -> ProbeEvent {
    retransmit(pid: pid, at: milliseconds, cookie: cookie, peer: peer, segments: segments, cause: .rto,
               state: .loss, backoff: backoff)
}

/// A congestion-state change of `pid`'s connection `cookie`.
func congestion(pid: UInt32, at milliseconds: UInt64, cookie: UInt64 = 1, peer: UInt8 = 2,
                to state: CongestionState, from previous: CongestionState, backoff: UInt8 = 0) -> ProbeEvent {
    ProbeEvent(kind: .congestionState, monotonicNanoseconds: ms(milliseconds),
               owner: SocketOwner(pid: pid, tid: pid, command: Command("trainer"), source: .socket),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 1), localPort: 40000,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, peer), remotePort: 29500,
                                      state: .established),
               socketCookie: cookie, networkNamespace: hostNetns,
               congestionState: state, previousCongestionState: previous, backoff: backoff)
}

/// A kernel drop of a TCP packet for reason `code`, owner unknown.
func kernelDrop(at milliseconds: UInt64, reason code: UInt32, netns: UInt32 = hostNetns, pid: UInt32 = 0) -> ProbeEvent {
    ProbeEvent(kind: .drop, monotonicNanoseconds: ms(milliseconds), owner: SocketOwner(pid: pid),
               connection: Connection(family: .ipv4, localAddress: IPAddress(ipv4: 10, 0, 0, 9), localPort: 5001,
                                      remoteAddress: IPAddress(ipv4: 10, 0, 0, 1), remotePort: 40000),
               networkNamespace: netns, dropReason: code)
}

func processExit(pid: UInt32, at milliseconds: UInt64, status: UInt32 = 0) -> ProbeEvent {
    ProbeEvent(kind: .processExit, monotonicNanoseconds: ms(milliseconds),
               owner: SocketOwner(pid: pid, tid: pid, command: Command("trainer"), source: .socket), dropReason: status)
}

/// Loads rules as the engine does (with its schemas).
func loadEngineRules(_ yaml: String, file: String = "t.yaml") throws -> RuleSet {
    try RuleEngine.load(files: [(file, Array(yaml.utf8))])
}

/// The package root, found from this file's path.
let packageRoot: String = {
    var path = String(#filePath)
    for _ in 0..<3 {
        guard let slash = path.lastIndex(of: "/") else { break }
        path = String(path[..<slash])
    }
    return path
}()

/// Drives a RuleEngine and a StateGraph the way `Pipeline` does: ticks at
/// fixed 250 ms boundaries of event time, run before the first event past
/// each boundary; the graph before the rules.
final class EngineHarness {
    let engine: RuleEngine
    var graph: StateGraph
    var alerts: [Alert] = []
    let tickNanoseconds: UInt64
    /// False: events reach only the engine, which sees an empty graph
    /// (cheaper, for tests of event rules with thousands of entities).
    var appliesToGraph = true
    private(set) var nextTick: UInt64 = 0
    private var changes: [GraphChange] = []

    init(rules: RuleSet, graph configuration: GraphConfiguration = GraphConfiguration(),
         dropReasons: [UInt32: String] = testDropReasons, tickNanoseconds: UInt64 = 250_000_000) {
        engine = RuleEngine(rules: rules, dropReasonNames: dropReasons, windowSeconds: configuration.windowSeconds)
        graph = StateGraph(configuration: configuration)
        self.tickNanoseconds = tickNanoseconds
    }

    convenience init(_ yaml: String, graph configuration: GraphConfiguration = GraphConfiguration()) throws {
        self.init(rules: try loadEngineRules(yaml), graph: configuration)
    }

    func feed(_ event: ProbeEvent) {
        let time = event.monotonicNanoseconds
        if nextTick == 0 { nextTick = (time / tickNanoseconds + 1) * tickNanoseconds }
        tick(through: time)
        if appliesToGraph {
            graph.apply(event, changes: &changes)
            changes.removeAll()
        }
        engine.observe(event, alerts: &alerts)
    }

    /// Feeds `events` in the order given.
    func feed(_ events: [ProbeEvent]) {
        for event in events { feed(event) }
    }

    /// Feeds `events` in event-time order (stable for equal times).
    func feedSorted(_ events: [ProbeEvent]) {
        feed(events.enumerated().sorted {
            ($0.element.monotonicNanoseconds, $0.offset) < ($1.element.monotonicNanoseconds, $1.offset)
        }.map(\.element))
    }

    /// Runs every tick at or before `milliseconds`.
    func run(until milliseconds: UInt64) {
        tick(through: ms(milliseconds))
    }

    func tick(through time: UInt64) {
        guard nextTick != 0 else { return }
        while nextTick <= time {
            graph.advance(to: nextTick, changes: &changes)
            engine.evaluate(graph: graph, at: nextTick, alerts: &alerts)
            nextTick += tickNanoseconds
        }
        changes.removeAll()
    }

    /// "<ms> <state> <rule> <entity> value=<value>", one per alert so far.
    func summary(rule: String? = nil) -> [String] {
        alerts.filter { rule == nil || $0.rule == rule }.map(describe)
    }
}

func describe(_ alert: Alert) -> String {
    "\(alert.time / 1_000_000) \(alert.state.rawValue) \(alert.rule) \(alert.entity) value=\(alert.value.text)"
}

/// The evidence as "name=value" (missing values left out, as on the line).
func evidenceText(_ alert: Alert) -> [String] {
    alert.evidence.compactMap { name, value in
        value == .missing ? nil : "\(name)=\(value.text)"
    }
}
