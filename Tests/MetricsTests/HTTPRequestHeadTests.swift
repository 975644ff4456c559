import Metrics
import XCTest

final class HTTPRequestHeadTests: XCTestCase {
    func parse(_ text: String) -> HTTPRequestHead {
        HTTPRequestHead(parsing: Array(text.utf8)[...])
    }

    func testRequests() {
        let table: [(String, HTTPRequestHead)] = [
            ("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", .request(method: "GET", path: "/metrics")),
            ("GET /metrics?x=1 HTTP/1.0\r\n\r\n", .request(method: "GET", path: "/metrics")),
            ("POST / HTTP/1.1\n\n", .request(method: "POST", path: "/")),
            ("GET /metrics HTTP/1.1\r\n\r\nbody bytes", .request(method: "GET", path: "/metrics")),
        ]
        for (text, expected) in table { XCTAssertEqual(parse(text), expected, text.debugDescription) }
    }

    func testIncompleteUntilTheBlankLine() {
        for text in ["", "GET", "GET /metrics HTTP/1.1\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r"] {
            XCTAssertEqual(parse(text), .incomplete, text.debugDescription)
        }
    }

    func testMalformed() {
        let table: [(String, String)] = [
            ("\r\n\r\n", "the request line is not 'METHOD /path HTTP/1.1'"),
            ("GET /metrics\r\n\r\n", "the request line is not 'METHOD /path HTTP/1.1'"),
            ("GET  /metrics HTTP/1.1\r\n\r\n", "the request line is not 'METHOD /path HTTP/1.1'"),
            ("get /metrics HTTP/1.1\r\n\r\n", "the method is not an upper-case token"),
            ("GET /metrics HTTP/2\r\n\r\n", "not HTTP/1.0 or HTTP/1.1"),
            ("GET /metrics SPDY/1.1\r\n\r\n", "not HTTP/1.0 or HTTP/1.1"),
            ("GET metrics HTTP/1.1\r\n\r\n", "the target is not an absolute path"),
            ("GET http://x/metrics HTTP/1.1\r\n\r\n", "the target is not an absolute path"),
            ("GET /m\u{7f} HTTP/1.1\r\n\r\n", "the target is not an absolute path"),
            ("\u{16}\u{03}\u{01}\u{02}\n\n", "the request line is not 'METHOD /path HTTP/1.1'"),
        ]
        for (text, reason) in table { XCTAssertEqual(parse(text), .malformed(reason), text.debugDescription) }
    }
}
