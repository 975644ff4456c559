import RuleLanguage
@testable import RuleTesting
import XCTest

/// No input crashes the test-file loader: random edits of a valid file
/// give either a loaded file or located errors.
final class RobustnessTests: XCTestCase {
    static let seed = Array("""
    rule_files: [a.yaml]
    tests:
      - name: stalls
        events:
          - {at: 0s, every: 250ms, until: 2s, type: transport.drop, pid: 1024, cause: rto, daddr: 10.0.0.2, cookie: 7}
          - {at: 1s, type: transport.kernel_drop, reason: NETFILTER_DROP, netns: 1}
        until: 10s
        expect_firing:
          - {rule: stalled, pid: 1024, within: [0s, 2s], fields: {rtos: ">= 2"}, labels: {team: net}, value: 2}
        expect_resolved:
          - {rule: stalled, entity: network-pid-1024, at: 9s}
        expect_silent:
          - {rule: rto-seen, within: 1s}
    """.utf8)

    /// Bytes that matter to YAML and to the notation.
    static let alphabet = Array("{}[]:,-'\"#&*!|>? \n\t0123456789.smhx".utf8) + [0, 0xFF, 0xC3]

    func testRandomEditsGiveLocatedErrorsOrAFile() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var bytes = Self.seed
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes.remove(at: index)
                case 1: bytes.insert(Self.alphabet.randomElement(using: &generator)!, at: index)
                default: bytes[index] = Self.alphabet.randomElement(using: &generator)!
                }
            }
            do {
                _ = try TestFileParser.parse(bytes, path: "t.yaml")
            } catch {
                for located in error.errors {
                    XCTAssertEqual(located.file, "t.yaml")
                    XCTAssertGreaterThan(located.line, 0, "\(located) for:\n\(String(decoding: bytes, as: UTF8.self))")
                    XCTAssertGreaterThan(located.column, 0, "\(located)")
                    XCTAssertFalse(located.message.isEmpty)
                }
            }
        }
    }
}
