import XCTest
@testable import RuleLanguage

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random and mutated inputs never crash the loader or the parser: each
/// either succeeds or fails with errors located inside the input.
final class FuzzTests: XCTestCase {
    static let seeds = [
        BadInputTests.rule,
        RuleFileTests.workloadStalled,
        """
        lists: {ports: [80, 443], names: ['a', "b"]}
        macros: {hot: "rate(segments, 10s) > 2 and dport in ports"}
        rules: [{rule: r, description: d, on: process, condition: "hot or comm in names", severity: info, message: "{comm}"}]
        """,
    ]

    static let snippets: [[UInt8]] = [
        ": ", "- ", "[", "]", "{", "}", "\"", "'", "|", ">", "&a ", "*a", "!!str ", "\t", "\n", "\r\n", "#", "---\n",
        "? ", ",", "{pid}", "{{", "}}", "count(", "rate(segments, ", "30s", "0ms", "2h", " and ", " or ", "not ", " in ",
        "(", ")", "==", "=", "!", "\\", "\\\"", "1e999", "99999999999999999999", "é", "\u{2028}", "rule", "on", "macros",
        "lists", "condition", "message", "severity", "x", "  ",
    ].map { Array($0.utf8) } + [[0], [0xFF], [0xC3], [0xEF, 0xBB, 0xBF]]

    func testMutatedRuleFilesFailWithLocatedErrors() {
        var random = SeededGenerator(state: 20_240_601)
        var outcomes = (loaded: 0, rejected: 0)
        for round in 0..<2500 {
            var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                mutate(&bytes, using: &random)
            }
            let errors = loadErrors(bytes: bytes, file: "fuzz.yaml")
            if errors.isEmpty { outcomes.loaded += 1 } else { outcomes.rejected += 1 }
            let lines = SourceText(bytes).lineStarts.count
            for error in errors {
                let where_ = "round \(round): \(error) in \(String(decoding: bytes, as: UTF8.self).debugDescription)"
                XCTAssertEqual(error.file, "fuzz.yaml", where_)
                XCTAssertTrue((1...lines + 1).contains(error.line), where_)
                XCTAssertGreaterThanOrEqual(error.column, 1, where_)
                XCTAssertFalse(error.message.isEmpty, where_)
            }
        }
        XCTAssertGreaterThan(outcomes.loaded, 100, "mutations should not all break the file")
        XCTAssertGreaterThan(outcomes.rejected, 1000)
    }

    static let vocabulary = [
        "pid", "comm", "retransmits", "backoff", "stalled", "edge.rate", "segments", "cause", "srtt", "nope", "count", "sum",
        "rate", "max", "min", "avg", "1", "0", "2.5", "30s", "500ms", "2h", "'rto'", "\"x\"", "'open", "\"\\q\"", "true",
        "false", "and", "or", "not", "in", "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "(", ")", ",", "=", "!",
        "&&", ".", "1.", "é", "\t", "99999999999999999999",
    ]

    func testRandomExpressionsFailWithLocatedErrors() {
        var random = SeededGenerator(state: 7)
        var compiled = 0
        for round in 0..<3000 {
            let text: String
            if round % 3 == 0 {
                var words = booleanExpression(depth: 3, using: &random).split(separator: " ").map(String.init)
                if Bool.random(using: &random) {
                    words[Int.random(in: 0..<words.count, using: &random)] = Self.vocabulary.randomElement(using: &random)!
                }
                text = words.joined(separator: " ")
            } else if round % 3 == 1 {
                text = String(String.UnicodeScalarView((0..<Int.random(in: 0...20, using: &random)).map { _ in
                    Unicode.Scalar(UInt32.random(in: 0...0x7F, using: &random)) ?? " "
                }))
            } else {
                text = (0..<Int.random(in: 1...24, using: &random))
                    .map { _ in Self.vocabulary.randomElement(using: &random)! }
                    .joined(separator: Bool.random(using: &random) ? " " : "")
            }
            do {
                let expression = try compileExpression(text)
                compiled += 1
                _ = expression.evaluate(["pid": .number(Double.random(in: -5...5, using: &random)), "comm": .string("x")],
                                        aggregates: [0, .nan, 3, .infinity, -1])
            } catch {
                XCTAssertEqual(error.file, "expr", text)
                XCTAssertEqual(error.line, 1, text)
                XCTAssertTrue((1...text.unicodeScalars.count + 1).contains(error.column), "\(text): \(error)")
                XCTAssertFalse(error.message.isEmpty, text)
            }
        }
        XCTAssertGreaterThan(compiled, 500, "many generated expressions should be valid")
    }

    /// A well-formed condition (words separated by spaces) over the test schemas.
    private func booleanExpression(depth: Int, using random: inout SeededGenerator) -> String {
        let choice = Int.random(in: 0..<(depth > 0 ? 8 : 3), using: &random)
        switch choice {
        case 0: return "stalled"
        case 1: return "comm == 'x'"
        case 2: return "pid in ( 1 , 2 )"
        case 3: return "\(numericExpression(depth: depth - 1, using: &random)) > \(numericExpression(depth: depth - 1, using: &random))"
        case 4: return "\(booleanExpression(depth: depth - 1, using: &random)) and \(booleanExpression(depth: depth - 1, using: &random))"
        case 5: return "\(booleanExpression(depth: depth - 1, using: &random)) or \(booleanExpression(depth: depth - 1, using: &random))"
        case 6: return "not ( \(booleanExpression(depth: depth - 1, using: &random)) )"
        default: return "count( cause == 'rto' , 30s ) >= \(numericExpression(depth: depth - 1, using: &random))"
        }
    }

    private func numericExpression(depth: Int, using random: inout SeededGenerator) -> String {
        let leaves = ["pid", "retransmits", "1", "2.5", "0", "sum( segments , 30s )", "rate( segments , 1m )"]
        guard depth > 0, Bool.random(using: &random) else { return leaves.randomElement(using: &random)! }
        let op = ["+", "-", "*", "/"].randomElement(using: &random)!
        return "( \(numericExpression(depth: depth - 1, using: &random)) \(op) \(numericExpression(depth: depth - 1, using: &random)) )"
    }

    private func mutate(_ bytes: inout [UInt8], using random: inout SeededGenerator) {
        let position = Int.random(in: 0...bytes.count, using: &random)
        switch Int.random(in: 0..<5, using: &random) {
        case 0 where position < bytes.count:
            bytes[position] = UInt8.random(in: 0...255, using: &random)
        case 1 where position < bytes.count:
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &random)))
        case 2 where position < bytes.count:
            let end = min(bytes.count, position + Int.random(in: 1...40, using: &random))
            bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &random))
        default:
            bytes.insert(contentsOf: Self.snippets.randomElement(using: &random)!, at: position)
        }
    }
}
