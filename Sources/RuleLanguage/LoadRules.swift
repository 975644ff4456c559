/// Loads, checks and compiles rule files. Every error of every file is
/// reported, each with file, line and column; rule names must be unique
/// across all the files.
///
/// - Parameters:
///   - subjectSchemas: the fields of each subject a rule can be `on:`.
///   - eventSchema: the fields of the events that aggregates run over.
///   - functions: the aggregates the engine provides.
public func loadRules(
    files: [(path: String, bytes: [UInt8])],
    subjectSchemas: [String: FieldSchema],
    eventSchema: FieldSchema,
    functions: [AggregateFunction] = AggregateFunction.allCases
) throws(RuleFileErrors) -> RuleSet {
    let loader = RuleFileLoader(subjectSchemas: subjectSchemas, eventSchema: eventSchema, functions: functions)
    var errors: [RuleFileError] = []
    var rules: [CompiledRule] = []
    var firstDefinition: [String: SourceLocation] = [:]
    for file in files {
        let loaded = loader.load(path: file.path, bytes: file.bytes)
        errors += loaded.errors
        for result in loaded.rules {
            if let (name, location) = result.name {
                if let first = firstDefinition[name] {
                    errors.append(RuleFileError(file: location.file, at: location.mark,
                                                "duplicate rule name '\(name)' (first defined at \(first))"))
                    continue
                }
                firstDefinition[name] = location
            }
            if let rule = result.rule { rules.append(rule) }
        }
    }
    guard errors.isEmpty else { throw RuleFileErrors(errors) }
    return RuleSet(rules: rules)
}
