/// The text `ark-probe test` shows for a test: one line when it passed;
/// for a failure, a diff of the expected and the actual alerts:
///
///     FAIL rules/tests/stall.yaml:12:5: heavy loss pages
///       expected (- not met, = met):
///       - rules/tests/stall.yaml:16:9: workload-stalled fires for pid 4242 within [0s, 2s]
///           workload-stalled fired for network-pid-4242 at +2.5s: after the window [0s, 2s]
///       actual alerts (= as expected, ! breaks an expectation):
///           +2.5s firing workload-stalled network-pid-4242 value=3 "task 4242 ..."
public enum FailureReport {
    public static func text(for result: TestResult) -> String {
        let title = "\(result.test.location): \(result.test.name)"
        switch result.outcome {
        case .passed:
            return "PASS \(title)"
        case .error(let message):
            return "ERROR \(title)\n  cannot replay the input: \(message)"
        case .failed:
            return "FAIL \(title)\n" + diff(result)
        }
    }

    /// "N passed, N failed": CI reads this exact form.
    public static func summary(passed: Int, failed: Int) -> String {
        "\(passed) passed, \(failed) failed"
    }

    private static func diff(_ result: TestResult) -> String {
        var lines = ["  expected (- not met, = met):"]
        for outcome in result.expectations {
            lines.append("  \(outcome.isMet ? "=" : "-") \(outcome.expectation.location): \(outcome.expectation.summary)")
            lines += outcome.reasons.map { "      " + $0 }
        }
        let met = Set(result.expectations.filter(\.isMet).flatMap(\.alerts))
        let breaking = Set(result.expectations.filter { !$0.isMet }.flatMap(\.alerts))
        lines.append("  actual alerts (= as expected, ! breaks an expectation):")
        if result.alerts.isEmpty { lines.append("      none") }
        for (index, alert) in result.alerts.enumerated() {
            let marker = breaking.contains(index) ? "!" : met.contains(index) ? "=" : " "
            lines.append("  \(marker)   \(alert.summary)")
        }
        return lines.joined(separator: "\n")
    }
}
