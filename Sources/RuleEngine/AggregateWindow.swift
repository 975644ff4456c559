import RuleLanguage

/// One windowed aggregate of one entity over event time, in 20 fixed
/// buckets: count, sum, max and min per bucket, so every function of
/// `AggregateFunction` is answered in constant memory.
struct AggregateWindow {
    static let bucketCount = 20
    let function: AggregateFunction
    let bucketNanoseconds: UInt64
    private var counts = [UInt32](repeating: 0, count: bucketCount)
    private var sums = [Double](repeating: 0, count: bucketCount)
    private var maxima = [Double](repeating: -.infinity, count: bucketCount)
    private var minima = [Double](repeating: .infinity, count: bucketCount)
    private var newestBucket: UInt64 = 0

    init(_ spec: AggregateSpec) {
        function = spec.function
        bucketNanoseconds = max(1, UInt64(spec.windowSeconds * 1e9) / UInt64(Self.bucketCount))
    }

    var windowSeconds: Double { Double(bucketNanoseconds * UInt64(Self.bucketCount)) / 1e9 }

    mutating func add(_ value: Double, at time: UInt64) {
        advance(to: time)
        let bucket = time / bucketNanoseconds
        guard bucket + UInt64(Self.bucketCount) > newestBucket else { return }
        let index = Int(bucket % UInt64(Self.bucketCount))
        counts[index] &+= 1
        sums[index] += value
        maxima[index] = Swift.max(maxima[index], value)
        minima[index] = Swift.min(minima[index], value)
    }

    /// The aggregate's value over the window ending at `time`; NaN (read
    /// as missing) for max, min and avg over no events.
    mutating func value(at time: UInt64) -> Double {
        advance(to: time)
        switch function {
        case .count: return Double(counts.reduce(0) { $0 + UInt64($1) })
        case .sum: return sums.reduce(0, +)
        case .rate: return sums.reduce(0, +) / windowSeconds
        case .max:
            let value = maxima.reduce(-.infinity, Swift.max)
            return value == -.infinity ? .nan : value
        case .min:
            let value = minima.reduce(.infinity, Swift.min)
            return value == .infinity ? .nan : value
        case .avg:
            let count = counts.reduce(0) { $0 + UInt64($1) }
            return count == 0 ? .nan : sums.reduce(0, +) / Double(count)
        }
    }

    /// No event within the window ending at `time`.
    mutating func isEmpty(at time: UInt64) -> Bool {
        advance(to: time)
        return counts.allSatisfy { $0 == 0 }
    }

    private mutating func advance(to time: UInt64) {
        let bucket = time / bucketNanoseconds
        guard bucket > newestBucket else { return }
        let stale = Swift.min(bucket - newestBucket, UInt64(Self.bucketCount))
        for step in 1...stale {
            let index = Int((newestBucket + step) % UInt64(Self.bucketCount))
            counts[index] = 0
            sums[index] = 0
            maxima[index] = -.infinity
            minima[index] = .infinity
        }
        newestBucket = bucket
    }
}
