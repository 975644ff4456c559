import RuleEngine
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// A YAML file read and parsed, and which kind it is: a test file has a
/// top-level `tests:` key, anything else is taken for a rule file.
public enum SourceFile {
    case ruleFile(path: String, bytes: [UInt8])
    case testFile(path: String, root: YAMLNode)

    public static func read(_ path: String) throws(RuleFileError) -> SourceFile {
        let bytes = try contents(of: path)
        let root = try parseYAML(bytes, file: path)
        return TestFileParser.isTestFile(root) ? .testFile(path: path, root: root) : .ruleFile(path: path, bytes: bytes)
    }

    public var path: String {
        switch self {
        case .ruleFile(let path, _), .testFile(let path, _): path
        }
    }

    /// The bytes of a regular file; an error about the file as a whole
    /// (line 0, column 0) when it cannot be read.
    static func contents(of path: String) throws(RuleFileError) -> [UInt8] {
        guard isRegularFile(path) else {
            throw wholeFileError(path, access(path, F_OK) == 0 ? "not a regular file" : "no such file")
        }
        let files: [(path: String, bytes: [UInt8])]
        do { files = try RuleFiles.read([path]) } catch { throw wholeFileError(path, error.description) }
        return files.first?.bytes ?? []
    }
}

/// An error about a file as a whole: it has no line and column (0).
func wholeFileError(_ path: String, _ message: String) -> RuleFileError {
    RuleFileError(file: path, line: 0, column: 0, message: message)
}

func isRegularFile(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
}

func isDirectory(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
}

extension RuleFileError {
    /// "file:line:column: message", or "file: message" for an error about
    /// the file as a whole.
    public var diagnosticLine: String {
        line == 0 ? "\(file): \(message)" : description
    }
}
