import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

/// The YAML files that paths name: a file as given; in a directory,
/// every `*.yaml` and `*.yml` file at any depth (rules/tests/ included),
/// in name order. Hidden entries and symbolic links to directories are
/// skipped, so a link cannot make the walk loop.
public enum YAMLFiles {
    static let maximumDepth = 32

    public static func find(_ paths: [String]) -> (files: [String], errors: [RuleFileError]) {
        var files: [String] = []
        var errors: [RuleFileError] = []
        for path in paths {
            if isDirectory(path) {
                walk(path, depth: 0, files: &files, errors: &errors)
            } else if isRegularFile(path) {
                files.append(path)
            } else {
                errors.append(wholeFileError(path, access(path, F_OK) == 0 ? "not a regular file or directory" : "no such file or directory"))
            }
        }
        return (files, errors)
    }

    private static func walk(_ directory: String, depth: Int, files: inout [String], errors: inout [RuleFileError]) {
        guard depth < maximumDepth else {
            errors.append(wholeFileError(directory, "directories nested deeper than \(maximumDepth) levels are not searched"))
            return
        }
        guard let stream = opendir(directory) else {
            errors.append(wholeFileError(directory, "cannot list: \(String(cString: strerror(errno)))"))
            return
        }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(stream)
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }
            if (status.st_mode & S_IFMT) == S_IFDIR {
                walk(path, depth: depth + 1, files: &files, errors: &errors)
            } else if (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && isRegularFile(path) {
                files.append(path)
            }
        }
    }
}
