import XCTest
@testable import RuleLanguage

/// The schemas every test checks against.
enum TestSchemas {
    static let process = FieldSchema(fields: [
        "pid": .number, "comm": .string, "retransmits": .number, "retransmit_rate": .number,
        "rto_count": .number, "stalled": .boolean, "backoff": .duration,
        "edge.rate": .number, "edge.peer": .string, "waiting_processes": .number,
    ])
    static let peer = FieldSchema(fields: ["address": .string, "waiting_processes": .number])
    static let subjects = ["process": process, "peer": peer]
    static let event = FieldSchema(fields: [
        "segments": .number, "cause": .string, "dport": .number, "srtt": .duration, "retransmit_failed": .boolean,
    ])
}

/// Field values by name and aggregate values by index.
struct TestContext: EvaluationContext {
    let fieldNames: [String]
    var fields: [String: Value] = [:]
    var aggregates: [Double] = []

    func value(of field: FieldID) -> Value { fields[fieldNames[field.index]] ?? .missing }
    func aggregate(_ index: Int) -> Double { index < aggregates.count ? aggregates[index] : .nan }
}

/// An expression compiled on its own, as a condition's would be.
struct CompiledTestExpression {
    let expression: CompiledExpression
    let fieldNames: [String]
    let aggregates: [AggregateSpec]

    func evaluate(_ fields: [String: Value] = [:], aggregates: [Double] = []) -> Value {
        expression.evaluate(TestContext(fieldNames: fieldNames, fields: fields, aggregates: aggregates))
    }
}

func compileExpression(_ text: String, lists: [String: RuleList] = [:]) throws(RuleFileError) -> CompiledTestExpression {
    let parsed = try Parser.parse(ExpressionSource(file: "expr", text: text))
    let checker = TypeChecker(file: "expr", subjectSchema: TestSchemas.process, eventSchema: TestSchemas.event,
                              lists: lists, functions: AggregateFunction.allCases)
    var compiler = ExpressionCompiler()
    let compiled = compiler.compile(try checker.checkValue(parsed), description: parsed.description)
    return CompiledTestExpression(expression: compiled, fieldNames: compiler.fieldNames, aggregates: compiler.aggregates)
}

func loadTestRules(_ files: [(String, String)]) throws(RuleFileErrors) -> RuleSet {
    try loadRules(files: files.map { (path: $0.0, bytes: Array($0.1.utf8)) },
                  subjectSchemas: TestSchemas.subjects, eventSchema: TestSchemas.event)
}

func loadTestRules(_ yaml: String, file: String = "rules.yaml") throws(RuleFileErrors) -> RuleSet {
    try loadTestRules([(file, yaml)])
}

/// The errors loading `yaml` produces, as "file:line:column: message" lines.
func loadErrors(_ yaml: String, file: String = "rules.yaml") -> [RuleFileError] {
    loadErrors(bytes: Array(yaml.utf8), file: file)
}

func loadErrors(bytes: [UInt8], file: String = "rules.yaml") -> [RuleFileError] {
    do {
        _ = try loadRules(files: [(path: file, bytes: bytes)], subjectSchemas: TestSchemas.subjects, eventSchema: TestSchemas.event)
        return []
    } catch {
        return error.errors
    }
}

/// A rule file with one rule whose condition (and optionally message) is given.
func ruleFile(condition: String, message: String = "task {pid} is stalled", extra: String = "") -> String {
    """
    rules:
      - rule: stalled
        description: a process waits on the network
        on: process
        condition: \(condition)
        severity: warning
        message: \(message)
    \(extra)
    """
}
