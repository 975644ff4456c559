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

    /// A histogram's `_bucket`, `_sum` and `_count` samples.
    public mutating func histogram(_ name: String, _ histogram: LatencyHistogram) {
        var cumulative: UInt64 = 0
        for (index, bound) in histogram.upperBoundsNanoseconds.enumerated() {
            cumulative += histogram.bucketCounts[index]
            sample(name + "_bucket", labels: [("le", Self.format(Double(bound) / 1e9))], cumulative)
        }
        sample(name + "_bucket", ["le": "+Inf"], histogram.count)
        sample(name + "_sum", [:], Double(histogram.sumNanoseconds) / 1e9)
        sample(name + "_count", [:], histogram.count)
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
        append(String(value))
    }
}
