/// How one test went.
public struct TestResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed
        /// The input could not be replayed (a bad trace line, say).
        case error(String)
    }

    public let file: String
    public let test: RuleTest
    public let outcome: Outcome
    public let expectations: [ExpectationOutcome]
    /// Every alert the rules gave, in time order.
    public let alerts: [ObservedAlert]

    public var passed: Bool { outcome == .passed }
}
