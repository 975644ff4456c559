import RuleEngine
import RuleLanguage

/// Why rules could not be loaded, in words for the user.
struct RuleLoadingError: Error, CustomStringConvertible {
    let description: String
}

/// The rules at `paths`, or the shipped rules when there are none.
func loadRuleSet(_ paths: [String]) throws(RuleLoadingError) -> RuleSet {
    let files: [(path: String, bytes: [UInt8])]
    if paths.isEmpty {
        files = shippedRuleFiles.map { ($0.path, Array($0.text.utf8)) }
    } else {
        do {
            files = try RuleFiles.read(paths)
        } catch {
            throw RuleLoadingError(description: error.description)
        }
    }
    do {
        return try RuleEngine.load(files: files)
    } catch {
        let count = error.errors.count
        throw RuleLoadingError(description: "\(count) error\(count == 1 ? "" : "s") in the rules; nothing was started:\n\(error)")
    }
}
