import RuleLanguage

/// A JUnit XML report, as CI systems read it: one <testsuite> per test
/// file, one <testcase> per test; a failure carries the diff, an input
/// that could not be replayed is an <error>, and a test file that could
/// not be loaded is a test suite with one <error> case listing its errors.
public enum JUnitReport {
    public static func xml(results: [TestResult], invalidFiles: [(path: String, errors: [RuleFileError])]) -> String {
        var suites: [(name: String, results: [TestResult])] = []
        for result in results {
            if suites.last?.name == result.file { suites[suites.count - 1].results.append(result) } else {
                suites.append((result.file, [result]))
            }
        }
        let failures = results.filter { $0.outcome == .failed }.count
        let errors = results.count - failures - results.filter(\.passed).count + invalidFiles.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"ark-probe test\" tests=\"\(results.count + invalidFiles.count)\" "
            + "failures=\"\(failures)\" errors=\"\(errors)\">\n"
        for suite in suites {
            let suiteFailures = suite.results.filter { $0.outcome == .failed }.count
            let suiteErrors = suite.results.count - suiteFailures - suite.results.filter(\.passed).count
            xml += "  <testsuite name=\"\(escaped(suite.name))\" tests=\"\(suite.results.count)\" "
                + "failures=\"\(suiteFailures)\" errors=\"\(suiteErrors)\">\n"
            for result in suite.results { xml += testCase(result) }
            xml += "  </testsuite>\n"
        }
        for file in invalidFiles {
            let text = file.errors.map(\.description).joined(separator: "\n")
            xml += "  <testsuite name=\"\(escaped(file.path))\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
            xml += "    <testcase name=\"load\" classname=\"\(escaped(file.path))\">\n"
            xml += "      <error message=\"\(escaped("\(file.errors.count) error(s) in the test file"))\">"
                + "\(escaped(text, inAttribute: false))</error>\n"
            xml += "    </testcase>\n  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private static func testCase(_ result: TestResult) -> String {
        var xml = "    <testcase name=\"\(escaped(result.test.name))\" classname=\"\(escaped(result.file))\""
        switch result.outcome {
        case .passed:
            return xml + "/>\n"
        case .failed:
            let unmet = result.expectations.filter { !$0.isMet }.count
            xml += ">\n      <failure message=\"\(escaped("\(unmet) of \(result.expectations.count) expectations not met"))\">"
            xml += escaped(FailureReport.text(for: result), inAttribute: false) + "</failure>\n"
        case .error(let message):
            xml += ">\n      <error message=\"\(escaped(message))\">\(escaped(FailureReport.text(for: result), inAttribute: false))</error>\n"
        }
        return xml + "    </testcase>\n"
    }

    /// Text for XML 1.0 content or attribute values: the five markup
    /// characters as entities; carriage return as a reference (parsers
    /// fold it into a newline), and in attributes tab and newline too
    /// (parsers fold them into spaces there); characters XML 1.0 forbids
    /// even as references replaced by U+FFFD.
    public static func escaped(_ text: String, inAttribute: Bool = true) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\r": result += "&#13;"
            case "\t" where inAttribute: result += "&#9;"
            case "\n" where inAttribute: result += "&#10;"
            case "\t", "\n": result.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
