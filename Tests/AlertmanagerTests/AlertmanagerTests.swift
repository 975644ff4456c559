@testable import Alertmanager
import ProbeEvents
import WorkloadIdentity
import XCTest
@testable import RuleEngine
@testable import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

final class AlertmanagerPayloadTests: XCTestCase {
    /// 2024-03-09T16:00:00Z at monotonic 0.
    let clock = WallClock(offsetNanoseconds: 1_710_000_000_000_000_000)

    func stalled(_ state: Alert.State, time: UInt64) -> Alert {
        Alert(state: state, time: time, onset: 1_000_000_000, rule: "workload-stalled", severity: .critical,
              labels: [RuleLabel(name: "category", value: "network"), RuleLabel(name: "host", value: "spoofed")],
              entity: .network(pid: 1024), pid: 1024, value: .number(4),
              message: "task 1024 (python3) is \"blocked\"",
              evidence: [("backoff", .number(2)), ("comm", .string("python3")), ("held", .number(1.25)),
                         ("peer", .string("10.0.0.2")), ("quiet", .missing), ("rtos", .number(6))])
    }

    func testFiringAndResolvedPayloadBytes() {
        let firing = AlertmanagerAlert(stalled(.firing, time: 1_500_000_000), host: "node-7", clock: clock)
        let resolved = AlertmanagerAlert(stalled(.resolved, time: 9_250_000_000), host: "node-7", clock: clock)
        XCTAssertEqual(firing.identity, resolved.identity, "one alert in Alertmanager: same labels")
        XCTAssertNil(firing.resolvedAtMilliseconds)
        XCTAssertEqual(resolved.resolvedAtMilliseconds, 1_710_000_009_250)
        let body = AlertsPayload.encode([(firing, 1_710_000_241_500), (resolved, 1_710_000_009_250)])
        let labels = #"{"alertname":"workload-stalled","category":"network","comm":"python3","entity":"network-pid-1024","# +
            #""host":"node-7","peer":"10.0.0.2","pid":"1024","severity":"critical"}"#
        let annotations = #"{"summary":"task 1024 (python3) is \"blocked\"","# +
            #""description":"backoff=2, comm=python3, held=1.25, peer=10.0.0.2, rtos=6"}"#
        XCTAssertEqual(String(decoding: body, as: UTF8.self),
                       #"[{"labels":\#(labels),"annotations":\#(annotations),"# +
                       #""startsAt":"2024-03-09T16:00:01.000Z","endsAt":"2024-03-09T16:04:01.500Z"},"# +
                       #"{"labels":\#(labels),"annotations":\#(annotations),"# +
                       #""startsAt":"2024-03-09T16:00:01.000Z","endsAt":"2024-03-09T16:00:09.250Z"}]"#)
    }

    func testLabelsWithoutPidCommOrPeerAndAConnectionsPeer() {
        let drops = Alert(state: .firing, time: 2_000_000_000, onset: 1_000_000_000, rule: "kernel-drop-spike",
                          severity: .warning, labels: [RuleLabel(name: "category", value: "kernel"), RuleLabel(name: "empty", value: "")],
                          entity: .kernelDrops(netns: 4026531840, reason: "NETFILTER_DROP"), pid: 0, value: .number(80),
                          message: "m", evidence: [("netns", .number(4026531840)), ("reason", .string("NETFILTER_DROP"))])
        XCTAssertEqual(AlertmanagerAlert(drops, host: "", clock: clock).labels.map { "\($0.name)=\($0.value)" },
                       ["alertname=kernel-drop-spike", "category=kernel", "entity=kernel-drops-4026531840-NETFILTER_DROP",
                        "severity=warning"])
        let storm = Alert(state: .firing, time: 2_000_000_000, onset: 1_000_000_000, rule: "connection-rto-storm",
                          severity: .warning, labels: [], entity: .connection(77), pid: 9, value: .number(3),
                          message: "m", evidence: [("comm", .string("")), ("daddr", .string("fd00::2"))])
        XCTAssertEqual(AlertmanagerAlert(storm, host: "h", clock: clock).labels.map { "\($0.name)=\($0.value)" },
                       ["alertname=connection-rto-storm", "entity=connection-77", "host=h", "peer=fd00::2", "pid=9",
                        "severity=warning"])
    }

    /// A rank's alert and a job's: the job and rank become labels.
    func testTrainingJobAndRankLabels() {
        var rank = stalled(.firing, time: 1_500_000_000)
        var identity = WorkloadIdentity()
        identity.launcher.runID = "llama-7b"
        identity.launcher.rank = 3
        rank.identity = identity
        XCTAssertEqual(AlertmanagerAlert(rank, host: "", clock: clock).labels.map { "\($0.name)=\($0.value)" },
                       ["alertname=workload-stalled", "category=network", "comm=python3", "entity=network-pid-1024",
                        "peer=10.0.0.2", "pid=1024", "rank=3", "severity=critical", "training_job=run:llama-7b"])
        let job = Alert(state: .firing, time: 2_000_000_000, onset: 1_000_000_000, rule: "job-stalled", severity: .critical,
                        labels: [RuleLabel(name: "rank", value: "spoofed")], entity: .job("slurm:81234"), pid: 0,
                        value: .number(0.7), message: "m",
                        evidence: [("job", .string("slurm:81234")), ("culprit_rank", .number(5)), ("peer", .string("10.0.0.9"))])
        XCTAssertEqual(AlertmanagerAlert(job, host: "", clock: clock).labels.map { "\($0.name)=\($0.value)" },
                       ["alertname=job-stalled", "entity=job-slurm:81234", "peer=10.0.0.9", "severity=critical",
                        "training_job=slurm:81234"])
    }

    func testRFC3339() {
        XCTAssertEqual(AlertsPayload.rfc3339(milliseconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(AlertsPayload.rfc3339(milliseconds: 951_782_400_007), "2000-02-29T00:00:00.007Z")
        XCTAssertEqual(AlertsPayload.rfc3339(milliseconds: 1_735_689_599_999), "2024-12-31T23:59:59.999Z")
    }
}

final class AlertmanagerURLTests: XCTestCase {
    func testGoodURLs() throws {
        let cases: [(String, String, UInt16, String, String)] = [
            ("http://127.0.0.1:9093", "127.0.0.1", 9093, "", "/api/v2/alerts"),
            ("http://alertmanager.monitoring.svc:9093/", "alertmanager.monitoring.svc", 9093, "", "/api/v2/alerts"),
            ("http://am-1:80/alertmanager//", "am-1", 80, "/alertmanager", "/alertmanager/api/v2/alerts"),
            ("http://[::1]:9093/a/b", "::1", 9093, "/a/b", "/a/b/api/v2/alerts"),
        ]
        for (text, host, port, prefix, path) in cases {
            let url = try AlertmanagerURL(parsing: text)
            XCTAssertEqual(url.host, host, text)
            XCTAssertEqual(url.port, port, text)
            XCTAssertEqual(url.pathPrefix, prefix, text)
            XCTAssertEqual(url.alertsPath, path, text)
        }
        XCTAssertEqual(try AlertmanagerURL(parsing: "http://[::1]:9093/").description, "http://[::1]:9093")
    }

    func testBadURLsSayWhereAndWhat() {
        let cases: [(String, Int, String)] = [
            ("", 1, "expected http://host:port[/prefix]"),
            ("https://am:9093", 1, "https is not supported"),
            ("am:9093", 1, "expected http://host:port[/prefix]"),
            ("HTTP://am:9093", 1, "expected http://host:port[/prefix]"),
            ("http://", 8, "missing host"),
            ("http://:9093", 8, "missing host"),
            ("http://am", 10, "missing port"),
            ("http://am/prefix", 10, "missing port"),
            ("http://am:", 11, "missing port number"),
            ("http://am:x", 11, "missing port number"),
            ("http://am:0", 11, "port must be from 1 to 65535"),
            ("http://am:65536", 11, "port must be from 1 to 65535"),
            ("http://am:99999999999999999999", 11, "port must be from 1 to 65535"),
            ("http://am:90a3", 13, "unexpected 'a' after the port"),
            ("http://user@am:9093", 12, "user information"),
            ("http://user:secret@am:9093", 19, "user information"),
            ("http://am:9093?x=1", 15, "query or fragment"),
            ("http://am:9093/p#f", 17, "query or fragment"),
            ("http://am:9093/a b", 17, "space or control character"),
            ("http://[::1:9093", 8, "without its ']'"),
            ("http://[]:9093", 9, "not an IPv6 address"),
            ("http://[zz]:9093", 9, "not an IPv6 address"),
            ("http://a m:9093", 9, "unexpected ' ' in the host"),
            ("http://*:9093", 8, "unexpected '*' where the host should be"),
            ("http://am\u{0}:9093", 10, "unexpected '\\u{0}' in the host"),
        ]
        for (text, column, problem) in cases {
            XCTAssertThrowsError(try AlertmanagerURL(parsing: text), text) { error in
                guard let error = error as? AlertmanagerURLError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.column, column, "\(text): \(error)")
                XCTAssertTrue(error.problem.contains(problem), "\(text): \(error)")
                XCTAssertTrue(error.description.hasPrefix("bad Alertmanager URL '\(text)' at column \(column): "), error.description)
            }
        }
    }
}

final class DeliveryTests: XCTestCase {
    func alert(_ name: String, resolvedAt: UInt64? = nil) -> AlertmanagerAlert {
        AlertmanagerAlert(labels: [.init(name: "alertname", value: name)], summary: "", description: "",
                          startsAtMilliseconds: 1, resolvedAtMilliseconds: resolvedAt)
    }

    func testQueueDropsTheOldestWhenFull() {
        var queue = BoundedQueue<Int>(capacity: 3)
        XCTAssertEqual((1...5).map { queue.append($0) }, [0, 0, 0, 1, 1])
        XCTAssertEqual(queue.removeAll(), [3, 4, 5])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual((6...13).reduce(0) { $0 + queue.append($1) }, 5)
        XCTAssertEqual(queue.removeAll(), [11, 12, 13])
    }

    func testBackoffSchedule() {
        let backoff = Backoff(initialSeconds: 0.5, maximumSeconds: 30)
        XCTAssertEqual((1...9).map { backoff.delayNanoseconds(afterFailures: $0) / 1_000_000 },
                       [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
        XCTAssertEqual(backoff.delayNanoseconds(afterFailures: 1_000_000), 30_000_000_000)
    }

    func testResendRetryAndForgetSchedule() {
        let second: UInt64 = 1_000_000_000
        var schedule = DeliverySchedule(resendInterval: 60 * second, resolvedResend: 900 * second, capacity: 10,
                                        backoff: Backoff(initialSeconds: 0.5, maximumSeconds: 30))
        let a = alert("a"), b = alert("b")
        XCTAssertEqual(schedule.add(a, now: 0) + schedule.add(b, now: 0), 0)
        XCTAssertEqual(schedule.due(now: 0), [a.identity, b.identity])
        XCTAssertEqual(schedule.nextWake(), 0)
        // Down: nothing is due until the back-off has passed; the alerts stay.
        XCTAssertEqual(schedule.failed(now: 1 * second), second / 2)
        XCTAssertEqual(schedule.due(now: 1 * second), [])
        XCTAssertEqual(schedule.nextWake(), 1 * second + second / 2)
        XCTAssertEqual(schedule.failed(now: 2 * second), 1 * second)
        XCTAssertEqual(schedule.due(now: 2 * second + second / 2), [])
        XCTAssertEqual(schedule.due(now: 3 * second), [a.identity, b.identity])
        schedule.delivered([a.identity, b.identity], now: 3 * second)
        XCTAssertEqual(schedule.consecutiveFailures, 0)
        XCTAssertEqual(schedule.undeliveredCount, 0)
        XCTAssertEqual(schedule.due(now: 62 * second), [])
        XCTAssertEqual(schedule.nextWake(), 63 * second, "firing alerts are re-sent every interval")
        // b resolves: due at once, then re-sent every interval for 900 s.
        XCTAssertEqual(schedule.add(alert("b", resolvedAt: 5000), now: 10 * second), 0)
        XCTAssertEqual(schedule.due(now: 10 * second), [b.identity])
        XCTAssertEqual(schedule.due(now: 10 * second, onlyUndelivered: true), [b.identity])
        schedule.delivered([b.identity], now: 10 * second)
        XCTAssertEqual(schedule.due(now: 63 * second), [a.identity])
        XCTAssertEqual(schedule.due(now: 63 * second, onlyUndelivered: true), [])
        XCTAssertEqual(schedule.due(now: 70 * second), [a.identity, b.identity])
        schedule.delivered([a.identity, b.identity], now: 909 * second)
        XCTAssertEqual(schedule.entries.count, 2)
        schedule.forgetExpired(now: 910 * second)
        XCTAssertEqual(schedule.entries.keys.sorted(), [a.identity], "resolved alerts are forgotten after 900 s")
    }

    func testTrackedAlertsAreBoundedForgettingDeliveredResolvedOnesFirst() {
        var schedule = DeliverySchedule(resendInterval: 60, resolvedResend: 900, capacity: 2, backoff: Backoff())
        _ = schedule.add(alert("old"), now: 0)
        _ = schedule.add(alert("done", resolvedAt: 1), now: 0)
        schedule.delivered([alert("old").identity, alert("done").identity], now: 0)
        XCTAssertEqual(schedule.add(alert("new"), now: 1), 1)
        XCTAssertEqual(schedule.entries.keys.sorted(), [alert("new").identity, alert("old").identity])
        XCTAssertEqual(schedule.add(alert("newer"), now: 2), 1)
        XCTAssertEqual(schedule.entries.keys.sorted(), [alert("new").identity, alert("newer").identity])
        XCTAssertEqual(schedule.add(alert("newer", resolvedAt: 3), now: 3), 0, "a new state of a tracked alert evicts nothing")
    }
}

/// The sender against sockets of this process: one port nobody listens
/// on, one that accepts connections but never answers.
final class SenderTests: XCTestCase {

    func testADownPeerIsReportedOnceAndItsAlertsKept() throws {
        let (descriptor, port) = try listeningSocket()
        close(descriptor)  // now nothing listens there
        let url = try AlertmanagerURL(parsing: "http://127.0.0.1:\(port)")
        let events = LockedStrings()
        var options = AlertmanagerOptions()
        options.backoff = Backoff(initialSeconds: 0.05, maximumSeconds: 0.1)
        let notifier = try AlertmanagerNotifier(urls: [url], host: "h", clock: WallClock(offsetNanoseconds: 0),
                                                options: options) { events.append($0.description) }
        notifier.enqueue([AlertmanagerAlert(labels: [.init(name: "alertname", value: "x")], summary: "", description: "",
                                            startsAtMilliseconds: 1, resolvedAtMilliseconds: nil)])
        usleep(600_000)
        let counters = notifier.finish(withinSeconds: 0.2)
        XCTAssertGreaterThanOrEqual(counters[0].failedAttempts, 3, "retried: \(counters)")
        XCTAssertEqual(counters[0].postsSent, 0)
        XCTAssertEqual(counters[0].pendingAlerts, 1)
        XCTAssertEqual(events.read(), ["alertmanager http://127.0.0.1:\(port): cannot deliver (connect: Connection refused); "
                                      + "1 alert(s) kept, retrying with back-off"])
    }

    func testASilentPeerTimesOutAndAFullQueueCountsItsDrops() throws {
        let (descriptor, port) = try listeningSocket()
        defer { close(descriptor) }
        let url = try AlertmanagerURL(parsing: "http://127.0.0.1:\(port)")
        let events = LockedStrings()
        var options = AlertmanagerOptions()
        options.queueCapacity = 4
        options.requestTimeoutSeconds = 0.3
        let notifier = try AlertmanagerNotifier(urls: [url], host: "h", clock: WallClock(offsetNanoseconds: 0),
                                                options: options) { events.append($0.description) }
        let alerts = (0..<10).map {
            AlertmanagerAlert(labels: [.init(name: "alertname", value: "a\($0)")], summary: "", description: "",
                              startsAtMilliseconds: 1, resolvedAtMilliseconds: nil)
        }
        notifier.enqueue(alerts)
        XCTAssertEqual(notifier.counters[0].droppedNotifications, 6)
        var counters = notifier.counters
        for _ in 0..<100 where counters[0].failedAttempts == 0 {
            usleep(20_000)
            counters = notifier.counters
        }
        XCTAssertEqual(counters[0].failedAttempts, 1)
        XCTAssertEqual(counters[0].pendingAlerts, 4)
        XCTAssertEqual(counters[0].droppedNotifications, 6)
        _ = notifier.finish(withinSeconds: 0.1)
        XCTAssertEqual(events.read().sorted(), [
            "alertmanager http://127.0.0.1:\(port): 6 notification(s) dropped (6 in all): it is too slow or down for too long",
            "alertmanager http://127.0.0.1:\(port): cannot deliver (no answer in time (waiting for the answer)); "
                + "4 alert(s) kept, retrying with back-off",
        ])
    }
}

final class HTTPPostTests: XCTestCase {
    func testStatusLines() throws {
        XCTAssertEqual(try HTTPPost.parseStatus(Array("HTTP/1.1 200 OK\r\n".utf8)), 200)
        XCTAssertEqual(try HTTPPost.parseStatus(Array("HTTP/1.0 503 Service Unavailable".utf8)), 503)
        XCTAssertEqual(try HTTPPost.parseStatus(Array("HTTP/1.1 204\r\n".utf8)), 204)
        for bad in ["", "HTTP/1.1", "HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "FOO/1.1 200 OK", "HTTP/1.1 abc OK",
                    "\r\nHTTP/1.1 200 OK"] {
            XCTAssertThrowsError(try HTTPPost.parseStatus(Array(bad.utf8)), bad) { error in
                guard case .badResponse(let message) = error as? DeliveryError else { return XCTFail("\(bad): \(error)") }
                XCTAssertTrue(message.hasPrefix("not an HTTP status line: "), message)
            }
        }
    }

    /// A one-shot server: reads one request, answers `response`, returns
    /// the request it read.
    func serveOnce(_ response: String) throws -> (port: UInt16, request: () -> String) {
        let (listener, port) = try listeningSocket()
        let received = LockedStrings()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { close(listener); done.signal() }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(connection, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                bytes += buffer[..<count]
                let text = String(decoding: bytes, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n"),
                   let length = text.split(separator: "\r\n").first(where: { $0.hasPrefix("Content-Length: ") })
                    .flatMap({ Int($0.dropFirst(16)) }),
                   text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { break }
            }
            received.append(String(decoding: bytes, as: UTF8.self))
            _ = response.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }
        return (port, { done.wait(); return received.read().first ?? "" })
    }

    func testTheRequestAndARejection() throws {
        let server = try serveOnce("HTTP/1.1 400 Bad Request\r\nContent-Length: 27\r\n\r\ninvalid label set: \"x y\"\n")
        let url = try AlertmanagerURL(parsing: "http://127.0.0.1:\(server.port)/am/")
        let events = LockedStrings()
        let notifier = try AlertmanagerNotifier(urls: [url], host: "h", clock: WallClock(offsetNanoseconds: 0)) {
            events.append($0.description)
        }
        notifier.enqueue([AlertmanagerAlert(labels: [.init(name: "alertname", value: "x")], summary: "s", description: "d",
                                            startsAtMilliseconds: 1_710_000_000_000, resolvedAtMilliseconds: 1_710_000_000_500)])
        let request = server.request()
        let counters = notifier.finish(withinSeconds: 2)
        let body = #"[{"labels":{"alertname":"x"},"annotations":{"summary":"s","description":"d"},"# +
            #""startsAt":"2024-03-09T16:00:00.000Z","endsAt":"2024-03-09T16:00:00.500Z"}]"#
        XCTAssertEqual(request, "POST /am/api/v2/alerts HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"
                       + "User-Agent: ark-probe\r\nContent-Type: application/json\r\n"
                       + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
        XCTAssertEqual(counters[0].rejectedPosts, 1)
        XCTAssertEqual(counters[0].failedAttempts, 0, "a 4xx is not retried")
        XCTAssertEqual(counters[0].pendingAlerts, 0)
        XCTAssertEqual(events.read(), [#"alertmanager http://127.0.0.1:\#(server.port)/am: refused 1 alert(s): HTTP 400: invalid label set: "x y""#])
    }
}

/// A listening socket on a free loopback port; nothing accepts its
/// connections unless the test does.
func listeningSocket() throws -> (descriptor: Int32, port: UInt16) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard bound, listen(descriptor, 16) == 0 else { throw XCTSkip("cannot listen on loopback") }
    return (descriptor, UInt16(bigEndian: address.sin_port))
}

/// The events the sender threads report.
final class LockedStrings: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var storage: [String] = []
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func append(_ text: String) { pthread_mutex_lock(mutex); storage.append(text); pthread_mutex_unlock(mutex) }
    func read() -> [String] { pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }; return storage }
}
