import ProbeEvents
import RuleEngine
import RuleLanguage

/// `ark-probe check`: validates rule files and test files without
/// running anything. Rule files are loaded together, as `run --rules`
/// would load them (so duplicate rule names across files are found);
/// each test file is loaded as `test` would load it.
public struct RuleCheck: Sendable {
    public let loader: TestFileLoader

    public init(loader: TestFileLoader) {
        self.loader = loader
    }

    public func check(_ paths: [String]) -> CheckReport {
        let (files, findErrors) = YAMLFiles.find(paths)
        var errors = Set(findErrors)
        var ruleFiles: [(path: String, bytes: [UInt8])] = []
        var testFiles: [String] = []
        for path in files {
            do {
                switch try SourceFile.read(path) {
                case .ruleFile(let path, let bytes):
                    ruleFiles.append((path, bytes))
                case .testFile(let path, let root):
                    testFiles.append(path)
                    do { _ = try loader.load(root, path: path) } catch { errors.formUnion(error.errors) }
                }
            } catch {
                errors.insert(error)
            }
        }
        if !ruleFiles.isEmpty {
            do { _ = try RuleEngine.load(files: ruleFiles) } catch { errors.formUnion(error.errors) }
        }
        return CheckReport(ruleFiles: ruleFiles.map(\.path), testFiles: testFiles, errors: errors.sorted())
    }
}

public struct CheckReport: Sendable {
    public let ruleFiles: [String]
    public let testFiles: [String]
    /// Sorted by file and position; a line and column of 0 mean the file as a whole.
    public let errors: [RuleFileError]

    public var isValid: Bool { errors.isEmpty }

    /// One error per line ("file:line:column: message"), then a summary.
    public var text: String {
        var lines = errors.map(\.diagnosticLine)
        let checked = "\(ruleFiles.count) rule file\(ruleFiles.count == 1 ? "" : "s") and "
            + "\(testFiles.count) test file\(testFiles.count == 1 ? "" : "s") checked"
        lines.append(errors.isEmpty ? "\(checked): no errors" : "\(checked): \(errors.count) error\(errors.count == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    /// One JSON object per line: each error
    /// {"type":"error","file":…,"line":…,"column":…,"message":…}, then
    /// {"type":"summary","rule_files":…,"test_files":…,"errors":…,"valid":…}.
    public var jsonLines: String {
        var writer = JSONLineWriter(capacity: 4096)
        for error in errors {
            writer.beginObject()
            writer.field("type", "error")
            writer.field("file", error.file)
            writer.field("line", UInt64(error.line))
            writer.field("column", UInt64(error.column))
            writer.field("message", error.message)
            writer.endLine()
        }
        writer.beginObject()
        writer.field("type", "summary")
        writer.field("rule_files", UInt64(ruleFiles.count))
        writer.field("test_files", UInt64(testFiles.count))
        writer.field("errors", UInt64(errors.count))
        writer.field("valid", isValid)
        writer.endLine()
        return String(decoding: writer.bytes.dropLast(), as: UTF8.self)
    }
}
