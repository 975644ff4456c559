import ProbeEvents
import RuleLanguage

/// A rule test file: which rules, and tests that pin the alerts they
/// give on given inputs.
public struct RuleTestFile: Sendable {
    public let path: String
    /// The rule files to load; nil: the shipped rules.
    public let ruleFiles: [FileReference]?
    public let tests: [RuleTest]
    /// Names of the kernel drop reasons inline events use, by the code
    /// each was given.
    public let dropReasonNames: [UInt32: String]
}

/// A file a test file names, by a path relative to the test file.
public struct FileReference: Sendable, Equatable {
    /// The path resolved against the test file's directory.
    public let path: String
    /// Where the test file names it.
    public let location: SourceLocation
}

public struct RuleTest: Sendable {
    public let name: String
    /// Where the test's mapping starts.
    public let location: SourceLocation
    public let input: TestInput
    /// The clock runs at least this long after the test start
    /// (nanoseconds), so that alerts can resolve after the last event.
    public let until: UInt64?
    public let expectations: [Expectation]
}

public enum TestInput: Sendable {
    /// A recorded trace; times are relative to its first event.
    case trace(FileReference)
    /// Events written in the test, in time order; their
    /// `monotonicNanoseconds` are relative to the test start.
    case events([ProbeEvent])
}
