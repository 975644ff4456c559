/// A Prometheus histogram of durations: observed in nanoseconds (integer
/// compares, no floating point per observation), exposed in seconds.
public struct LatencyHistogram: Sendable, Equatable {
    /// Ascending upper bounds; the +Inf bucket is implied.
    public let upperBoundsNanoseconds: [UInt64]
    /// The bounds in seconds, as the `le` label writes them.
    public let upperBoundTexts: [String]
    /// Observations per bucket (not cumulative); the last is above every bound.
    public private(set) var bucketCounts: [UInt64]
    public private(set) var sumNanoseconds: UInt64 = 0
    public private(set) var count: UInt64 = 0

    public init(upperBoundsNanoseconds: [UInt64]) {
        precondition(zip(upperBoundsNanoseconds, upperBoundsNanoseconds.dropFirst()).allSatisfy { $0 < $1 },
                     "histogram bounds must ascend")
        self.upperBoundsNanoseconds = upperBoundsNanoseconds
        upperBoundTexts = upperBoundsNanoseconds.map { MetricsText.format(Double($0) / 1e9) }
        bucketCounts = Array(repeating: 0, count: upperBoundsNanoseconds.count + 1)
    }

    public mutating func observe(nanoseconds: UInt64) {
        var index = 0
        while index < upperBoundsNanoseconds.count && nanoseconds > upperBoundsNanoseconds[index] { index += 1 }
        bucketCounts[index] += 1
        sumNanoseconds &+= nanoseconds
        count += 1
    }
}
