/// Collects errors so that one pass over a file reports all of them.
struct ErrorLog {
    private(set) var errors: [RuleFileError] = []

    mutating func record(_ error: RuleFileError) {
        errors.append(error)
    }

    /// The result of `body`, or nil after recording its error.
    mutating func attempt<T>(_ body: () throws(RuleFileError) -> T?) -> T? {
        do {
            return try body()
        } catch {
            errors.append(error)
            return nil
        }
    }
}
