#if canImport(Glibc)
import Glibc
#endif

/// `--run REGEX`: a POSIX extended regular expression (glibc's regcomp),
/// matched anywhere in a test's name, as `grep -E` does.
public final class TestNamePattern {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public let pattern: String
    private let regex: UnsafeMutablePointer<regex_t>

    public init(_ pattern: String) throws(Invalid) {
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let status = regcomp(compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(status, compiled, &buffer, buffer.count)
            compiled.deallocate()
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Invalid(description: "invalid regular expression '\(pattern)': \(reason)")
        }
        self.pattern = pattern
        regex = compiled
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    public func matches(_ name: String) -> Bool {
        regexec(regex, name, 0, nil, 0) == 0
    }
}
