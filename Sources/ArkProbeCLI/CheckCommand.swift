import RuleTesting

/// `ark-probe check`: validate rule files and rule test files without running them.
struct CheckCommand: Subcommand {
    static let name = "check"
    static let abstract = "Validate rule files and rule test files, with file:line:column for every error."
    static let usage = """
        USAGE: ark-probe check PATH... [--json]

        Validates rule files and rule test files without running them. A
        PATH is a file or a directory, searched at any depth for *.yaml and
        *.yml files (so "ark-probe check rules" covers rules/tests/ too). A
        file with a top-level "tests:" key is a test file; the rule files and
        traces it names must exist, and the rules, labels and fields its
        expectations name must exist in its rules. The other files are rule
        files, checked together as "run --rules" loads them. Every error is
        shown as file:line:column: what is wrong and what was expected.

        Exit status: 0 when everything is valid, 1 when not, 64 for a usage error.

        OPTIONS:
          --json               One JSON object per line instead: each error
                               {"type":"error","file","line","column","message"}
                               (line and column 0: the file as a whole), then
                               {"type":"summary","rule_files","test_files",
                               "errors","valid"}.
          -h, --help           Show this help.
        """

    var paths: [String] = []
    var json = false

    init(parsing arguments: inout ArgumentReader) throws(UsageError) {
        while let (name, _) = try arguments.nextOption(collecting: &paths) {
            switch name {
            case "--json": json = true
            default: throw arguments.unknown(name)
            }
        }
    }

    func validate() throws(UsageError) {
        if paths.isEmpty {
            throw UsageError("check needs at least one rule file, test file or directory, e.g. 'ark-probe check rules'")
        }
    }

    func run() -> Int32 {
        let loader = TestFileLoader(defaultRuleFiles: shippedRuleFiles.map { ($0.path, Array($0.text.utf8)) })
        let report = RuleCheck(loader: loader).check(paths)
        printOutput(json ? report.jsonLines : report.text)
        return report.isValid ? 0 : 1
    }
}
