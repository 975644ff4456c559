import XCTest
@testable import RuleLanguage

final class RuleFileTests: XCTestCase {
    static let workloadStalled = """
    lists:
      timeout_causes: [rto, syn]
    macros:
      retransmitting: rate(segments, 30s) > 1
      timing_out: count(cause in timeout_causes, 30s) >= 3
    rules:
      - rule: workload-stalled
        description: |
          A process whose connections keep timing out is stalled.
        on: process
        condition: retransmitting and timing_out
        for: 10s
        keep_firing_for: 1m
        severity: critical
        labels:
          team: training
          component: network
        message: >-
          task {pid} ({comm}) is being blocked by network congestion:
          {sum(segments, 30s)} segments retransmitted,
          {count(cause in timeout_causes, 30s)} timeouts in {30s}
      - rule: peer-crowded
        description: many processes wait on one peer
        on: peer
        condition: waiting_processes >= 4
        severity: info
        enabled: false
        message: "{waiting_processes} processes wait on {address}"
    """

    func testLoadsACompleteRuleFile() throws {
        let set = try loadTestRules(Self.workloadStalled)
        XCTAssertEqual(set.rules.map(\.name), ["workload-stalled", "peer-crowded"])
        let rule = set.rules[0]
        XCTAssertEqual(rule.description, "A process whose connections keep timing out is stalled.\n")
        XCTAssertEqual(rule.subject, "process")
        XCTAssertEqual(rule.forSeconds, 10)
        XCTAssertEqual(rule.keepFiringSeconds, 60)
        XCTAssertEqual(rule.severity, .critical)
        XCTAssertEqual(rule.labels, [RuleLabel(name: "component", value: "network"), RuleLabel(name: "team", value: "training")])
        XCTAssertTrue(rule.isEnabled)
        XCTAssertEqual(rule.source, SourceLocation(file: "rules.yaml", mark: SourceMark(line: 7, column: 5)))
        XCTAssertEqual(rule.condition.description,
                       "((rate(segments, 30s) > 1) and (count((cause in timeout_causes), 30s) >= 3))")
        XCTAssertEqual(rule.fieldNames, ["pid", "comm"])
        XCTAssertEqual(rule.aggregates.map(\.description),
                       ["rate(segments, 30s)", "count((cause in timeout_causes), 30s)", "sum(segments, 30s)"])
        XCTAssertEqual(rule.aggregates.map(\.windowSeconds), [30, 30, 30])
        XCTAssertEqual(rule.aggregates.map(\.function), [.rate, .count, .sum])
        XCTAssertFalse(set.rules[1].isEnabled)
        XCTAssertEqual(set.rules[1].forSeconds, 0)
        XCTAssertEqual(set.rules[1].labels, [])
    }

    func testConditionAndMessageShareFieldsAndAggregates() throws {
        let rule = try loadTestRules(Self.workloadStalled).rules[0]
        let context = TestContext(fieldNames: rule.fieldNames, fields: ["pid": .number(1024), "comm": .string("python")],
                                  aggregates: [2.5, 4, 75])
        XCTAssertTrue(rule.condition.holds(in: context))
        XCTAssertEqual(rule.message.render(context),
                       "task 1024 (python) is being blocked by network congestion: 75 segments retransmitted, 4 timeouts in 30s")
        let calm = TestContext(fieldNames: rule.fieldNames, aggregates: [0.5, 4, 15])
        XCTAssertFalse(rule.condition.holds(in: calm))
        XCTAssertEqual(rule.message.render(calm),
                       "task n/a (n/a) is being blocked by network congestion: 15 segments retransmitted, 4 timeouts in 30s")
    }

    func testEventPredicateReadsEventFields() throws {
        let rule = try loadTestRules(Self.workloadStalled).rules[0]
        guard case .matching(let predicate) = rule.aggregates[1].input else { return XCTFail("expected a predicate") }
        XCTAssertEqual(predicate.fieldNames, ["cause"])
        XCTAssertTrue(predicate.matches(TestContext(fieldNames: predicate.fieldNames, fields: ["cause": .string("rto")])))
        XCTAssertFalse(predicate.matches(TestContext(fieldNames: predicate.fieldNames, fields: ["cause": .string("fast")])))
        XCTAssertFalse(predicate.matches(TestContext(fieldNames: predicate.fieldNames)))
        guard case .field("segments") = rule.aggregates[0].input else { return XCTFail("expected a field") }
    }

    func testIdenticalAggregatesShareOneWindow() throws {
        let rule = try loadTestRules(ruleFile(condition: "sum(segments, 30s) > 1 and sum(segments,30s) < 9",
                                              message: "'{sum( segments , 30s )}'")).rules[0]
        XCTAssertEqual(rule.aggregates.count, 1)
    }

    func testMessageBracesAndFormatting() throws {
        let rule = try loadTestRules(ruleFile(condition: "true",
            message: "'{{literal}} {retransmit_rate / 3} {backoff} {stalled} {comm}}}'")).rules[0]
        let context = TestContext(fieldNames: rule.fieldNames, fields: [
            "retransmit_rate": .number(10), "backoff": .number(90.5), "stalled": .boolean(true), "comm": .string("x"),
        ])
        XCTAssertEqual(rule.message.render(context), "{literal} 3.333 90.5s true x}")
    }

    func testRulesFromSeveralFilesKeepFileOrder() throws {
        let set = try loadTestRules([("a.yaml", ruleFile(condition: "true")),
                                     ("b.yaml", ruleFile(condition: "false").replacingOccurrences(of: "stalled\n", with: "other\n"))])
        XCTAssertEqual(set.rules.map(\.name), ["stalled", "other"])
        XCTAssertEqual(set.rules.map(\.source.file), ["a.yaml", "b.yaml"])
    }

    func testCollectsEveryErrorOfAFile() {
        let errors = loadErrors("""
        rules:
          - rule: Bad_Name
            description: ""
            on: process
            condition: retransmits > "x"
            severity: fatal
            message: "{nope}"
            colour: red
        """)
        XCTAssertEqual(errors.map(\.description), [
            "rules.yaml:2:11: invalid rule name 'Bad_Name': use only a-z, 0-9 and '-'",
            "rules.yaml:3:18: 'description' must not be empty",
            "rules.yaml:5:28: cannot compare a number with a string",
            "rules.yaml:6:15: 'severity' must be critical, warning or info, not 'fatal'",
            "rules.yaml:7:16: unknown field 'nope'",
            "rules.yaml:8:5: unknown key 'colour' in a rule; expected one of: rule, description, on, condition, value, for, keep_firing_for, severity, labels, message, enabled",
        ])
    }
}

final class RuleListTests: XCTestCase {
    func testListItemsAreTypedFromPlainScalars() throws {
        let set = try loadTestRules(BadInputTests.condition("pid in ports and comm in names and backoff in waits and stalled in flags")
            + "\nlists:\n  ports: [80, -1, 1024]\n  names: [python, '80', \"x y\"]\n  waits: [1s, 2m]\n  flags: [true]\n")
        let rule = set.rules[0]
        func holds(_ fields: [String: Value]) -> Bool {
            rule.condition.holds(in: TestContext(fieldNames: rule.fieldNames, fields: fields))
        }
        let matching: [String: Value] = ["pid": .number(1024), "comm": .string("80"), "backoff": .number(120), "stalled": .boolean(true)]
        XCTAssertTrue(holds(matching))
        XCTAssertFalse(holds(matching.merging(["pid": .number(81)]) { $1 }))
        XCTAssertFalse(holds(matching.merging(["comm": .string("x")]) { $1 }))
        XCTAssertFalse(holds(matching.merging(["backoff": .number(3)]) { $1 }))
        XCTAssertFalse(holds(matching.merging(["stalled": .boolean(false)]) { $1 }))
    }

    func testEmptyListFitsAnyTypeAndMatchesNothing() throws {
        let rule = try loadTestRules(BadInputTests.condition("pid not in none or comm in none") + "\nlists:\n  none: []\n").rules[0]
        XCTAssertTrue(rule.condition.holds(in: TestContext(fieldNames: rule.fieldNames, fields: ["pid": .number(1)])))
        XCTAssertFalse(rule.condition.holds(in: TestContext(fieldNames: rule.fieldNames)))
    }

    func testListsAndMacrosBelongToTheirFile() {
        let first = BadInputTests.condition("hot") + "\nmacros:\n  hot: retransmits > 1\n"
        let second = BadInputTests.rule("rule: stalled", "rule: other").replacingOccurrences(of: "retransmits > 3", with: "hot")
        XCTAssertThrowsError(try loadTestRules([("a.yaml", first), ("b.yaml", second)])) { error in
            XCTAssertEqual((error as? RuleFileErrors)?.description, "b.yaml:5:16: unknown field 'hot'")
        }
    }

    func testMacrosUsingMacrosAndFieldsShadowedByMacros() throws {
        let rule = try loadTestRules(BadInputTests.condition("busy and pid") + """

        macros:
          busy: hot or stalled
          hot: retransmits > 10
          pid: comm == 'trainer'
        """).rules[0]
        XCTAssertEqual(rule.condition.description, "(((retransmits > 10) or stalled) and (comm == \"trainer\"))")
        XCTAssertEqual(rule.fieldNames, ["retransmits", "stalled", "comm"])
    }
}

final class RuleValueTests: XCTestCase {
    func testValueIsAnExpressionOverTheSubjectsFields() throws {
        let set = try loadTestRules("""
            rules:
              - rule: with-value
                description: d
                on: peer
                condition: waiting_processes >= 4
                value: waiting_processes * 2
                severity: info
                message: m
              - rule: without-value
                description: d
                on: peer
                condition: waiting_processes >= 4
                severity: info
                message: m
            """)
        XCTAssertEqual(set.rules[0].value?.type, .number)
        XCTAssertNil(set.rules[1].value)
        XCTAssertTrue(set.rules[0].fieldNames.contains("waiting_processes"))
    }

    func testABadValueIsLocated() {
        let errors = loadErrors("""
            rules:
              - rule: bad-value
                description: d
                on: peer
                condition: waiting_processes >= 4
                value: waiting_processes +
                severity: info
                message: m
            """).map(\.description)
        XCTAssertEqual(errors.count, 1)
        XCTAssertTrue(errors[0].hasPrefix("rules.yaml:6:"), errors[0])
    }
}
