#if canImport(Glibc)
import Glibc
#endif

/// What a metric family is, for its `# TYPE` line.
public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// Writes the Prometheus text exposition format (version 0.0.4): per
/// family a `# HELP` and a `# TYPE` line, then its samples. Names must be
/// valid metric and label names (the writer's callers use literals);
/// label values and help text are escaped here.
public struct MetricsText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 16 * 1024) {
        bytes.reserveCapacity(capacity)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Starts a family: its help text and type.
    public mutating func family(_ name: String, _ type: MetricType, help: String) {
        append("# HELP ")
        append(name)
        bytes.append(UInt8(ascii: " "))
        for byte in help.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            default: bytes.append(byte)
            }
        }
        append("\n# TYPE ")
        append(name)
        bytes.append(UInt8(ascii: " "))
        append(type.rawValue)
        bytes.append(UInt8(ascii: "\n"))
    }

    public mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: UInt64) {
        begin(name, labels)
        appendDecimal(value)
        bytes.append(UInt8(ascii: "\n"))
    }

    public mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        begin(name, labels)
        append(Self.format(value))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A sample whose labels are only known at run time.
    public mutating func sample(_ name: String, labels: [(String, String)], _ value: UInt64) {
        begin(name, labels)
        appendDecimal(value)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A sample of seconds given in nanoseconds (written without floating point).
    public mutating func sample(_ name: String, labels: [(String, String)], nanoseconds: UInt64) {
        begin(name, labels)
        appendSeconds(nanoseconds: nanoseconds)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A histogram's `_bucket`, `_sum` and `_count` samples. No floating
    /// point: the bounds were formatted when the histogram was made, and
    /// the sum is written from its nanoseconds. (A scrape in the agent must
    /// run little code: every code page it touches becomes resident.)
    public mutating func histogram(_ name: String, _ histogram: LatencyHistogram) {
        var cumulative: UInt64 = 0
        for (index, bound) in histogram.upperBoundTexts.enumerated() {
            cumulative += histogram.bucketCounts[index]
            sample(name + "_bucket", labels: [("le", bound)], cumulative)
        }
        sample(name + "_bucket", ["le": "+Inf"], histogram.count)
        begin(name + "_sum", [:])
        appendSeconds(nanoseconds: histogram.sumNanoseconds)
        bytes.append(UInt8(ascii: "\n"))
        sample(name + "_count", [:], histogram.count)
    }

    /// A whole number in decimal, without the standard library's generic
    /// formatting.
    public static func decimal(_ value: UInt64) -> String {
        var text = MetricsText(capacity: 20)
        text.appendDecimal(value)
        return String(decoding: text.bytes, as: UTF8.self)
    }

    /// Appends text already in exposition format (e.g. another writer's).
    public mutating func append(_ other: MetricsText) {
        bytes.append(contentsOf: other.bytes)
    }

    /// Go's ParseFloat reads what Swift's description writes ("0.005",
    /// "1e-05"), except for the infinities.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == floor(value) && abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    private mutating func begin(_ name: String, _ labels: KeyValuePairs<String, String>) {
        append(name)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            for (index, label) in labels.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendLabel(label.key, label.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
    }

    private mutating func begin(_ name: String, _ labels: [(String, String)]) {
        append(name)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            for (index, label) in labels.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendLabel(label.0, label.1)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
    }

    private mutating func appendLabel(_ name: String, _ value: String) {
        append(name)
        append("=\"")
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\n"): append("\\n")
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// Seconds with up to nine decimals, trailing zeros dropped.
    private mutating func appendSeconds(nanoseconds: UInt64) {
        appendDecimal(nanoseconds / 1_000_000_000)
        var fraction = nanoseconds % 1_000_000_000
        guard fraction > 0 else { return }
        var places = 9
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        bytes.append(UInt8(ascii: "."))
        var scale: UInt64 = 1
        for _ in 1..<places { scale *= 10 }
        while scale > fraction {
            bytes.append(UInt8(ascii: "0"))
            scale /= 10
        }
        appendDecimal(fraction)
    }
}
