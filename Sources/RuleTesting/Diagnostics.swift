import RuleLanguage

/// Collects located errors, so that one pass over a test file reports all
/// of them rather than the first.
struct Diagnostics {
    let file: String
    private(set) var errors: [RuleFileError] = []

    init(file: String) {
        self.file = file
    }

    mutating func record(_ mark: SourceMark, _ message: String) {
        errors.append(RuleFileError(file: file, at: mark, message))
    }

    mutating func record(_ error: RuleFileError) {
        errors.append(error)
    }

    /// The result of `body`, or nil after recording its error.
    mutating func attempt<T>(_ body: () throws(RuleFileError) -> T) -> T? {
        do {
            return try body()
        } catch {
            errors.append(error)
            return nil
        }
    }
}
