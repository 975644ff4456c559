import Agent
/// Runs the tests of loaded test files.
public enum TestRunner {
    /// The tests of `file` whose names `pattern` matches (all without one), in file order.
    /// `progress`: how far each trace's replay has come (for a terminal).
    public static func run(_ file: LoadedTestFile, selecting pattern: TestNamePattern? = nil,
                           progress: (@Sendable (ReplayProgress) -> Void)? = nil) -> [TestResult] {
        file.file.tests.filter { pattern?.matches($0.name) ?? true }.map { run($0, in: file, progress: progress) }
    }

    public static func run(_ test: RuleTest, in file: LoadedTestFile,
                           progress: (@Sendable (ReplayProgress) -> Void)? = nil) -> TestResult {
        let alerts: [ObservedAlert]
        do {
            alerts = try InputReplay.alerts(of: test, in: file, progress: progress)
        } catch {
            return TestResult(file: file.file.path, test: test, outcome: .error(error.description), expectations: [],
                              alerts: [])
        }
        let matcher = ExpectationMatcher(alerts: alerts)
        let outcomes = test.expectations.map(matcher.check)
        return TestResult(file: file.file.path, test: test, outcome: outcomes.allSatisfy(\.isMet) ? .passed : .failed,
                          expectations: outcomes, alerts: alerts)
    }
}
