/// Loads one rule file: its lists, then its macros, then each rule. Lists
/// and macros belong to the file that defines them.
struct RuleFileLoader {
    static let topLevelKeys = ["rules", "lists", "macros"]

    let subjectSchemas: [String: FieldSchema]
    let eventSchema: FieldSchema
    let functions: [AggregateFunction]

    func load(path: String, bytes: [UInt8]) -> (rules: [RuleReader.Result], errors: [RuleFileError]) {
        let root: YAMLNode
        do {
            root = try parseYAML(bytes, file: path)
        } catch {
            return ([], [error])
        }
        var log = ErrorLog()
        let top: MappingReader
        do {
            top = try MappingReader(root, file: path, allowed: Self.topLevelKeys, place: "at the top level", log: &log)
        } catch {
            return ([], [error])
        }
        top.require(["rules"], place: "at the top level", log: &log)
        let source = SourceText(bytes)
        let lists = RuleList.readAll(top["lists"], file: path, log: &log)
        var macros = MacroTable(top["macros"], file: path, source: source, lists: lists, log: &log)
        guard let rulesNode = top["rules"] else { return ([], log.errors) }
        guard case .sequence(let items, _) = rulesNode else {
            log.record(RuleFileError(file: path, at: rulesNode.mark, "'rules' must be a list of rules, not \(rulesNode.kindName)"))
            return ([], log.errors)
        }
        let reader = RuleReader(file: path, source: source, lists: lists, subjectSchemas: subjectSchemas,
                                eventSchema: eventSchema, functions: functions)
        let rules = items.map { reader.read($0, macros: &macros, log: &log) }
        return (rules, log.errors)
    }
}
