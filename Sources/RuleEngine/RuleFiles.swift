#if canImport(Glibc)
import Glibc
#endif

/// Reads rule files from paths given by the user: a file, or a directory
/// whose `*.yaml` and `*.yml` files are read in name order (not its
/// subdirectories, so `rules/tests/` stays out).
public enum RuleFiles {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Larger files are refused before they are read (the loader's limit too).
    static let maximumBytes = 1 << 20

    public static func read(_ paths: [String]) throws(Failure) -> [(path: String, bytes: [UInt8])] {
        var files: [(path: String, bytes: [UInt8])] = []
        for path in paths {
            var status = stat()
            guard stat(path, &status) == 0 else {
                throw Failure(description: "cannot read rules from \(path): \(String(cString: strerror(errno)))")
            }
            if (status.st_mode & S_IFMT) == S_IFDIR {
                let names = try yamlFiles(in: path)
                guard !names.isEmpty else {
                    throw Failure(description: "no rule files (*.yaml) in \(path)")
                }
                for name in names {
                    let file = path.hasSuffix("/") ? path + name : path + "/" + name
                    files.append((file, try contents(of: file)))
                }
            } else {
                files.append((path, try contents(of: path)))
            }
        }
        return files
    }

    private static func yamlFiles(in directory: String) throws(Failure) -> [String] {
        guard let stream = opendir(directory) else {
            throw Failure(description: "cannot list \(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    private static func contents(of path: String) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<count])
            if bytes.count > maximumBytes {
                throw Failure(description: "\(path) is larger than 1 MiB: not a rule file?")
            }
        }
    }
}
