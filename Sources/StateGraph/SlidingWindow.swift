/// A count over the last `bucketCount × bucketNanoseconds` of event time,
/// in fixed buckets: memory is constant, and old evidence falls out as time
/// advances without any per-event bookkeeping. The buckets are stored
/// inline, not in an array: a window is updated on every event, and an
/// array would cost a reference count and a uniqueness check each time.
public struct SlidingWindow: Sendable, Equatable {
    public static let bucketCount = 20
    public let bucketNanoseconds: UInt64
    private var buckets: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                          UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Index (time / bucketNanoseconds) of the newest bucket.
    private var newestBucket: UInt64 = 0

    /// A window of `seconds`, split into 20 buckets.
    public init(seconds: Double) {
        bucketNanoseconds = max(1, UInt64(seconds * 1e9) / UInt64(Self.bucketCount))
    }

    public var seconds: Double { Double(bucketNanoseconds * UInt64(Self.bucketCount)) / 1e9 }

    public mutating func add(_ amount: UInt32, at time: UInt64) {
        advance(to: time)
        let bucket = time / bucketNanoseconds
        // Evidence older than the window (out-of-order events) is not counted.
        guard bucket + UInt64(Self.bucketCount) > newestBucket else { return }
        let index = Int(bucket % UInt64(Self.bucketCount))
        withBuckets { $0[index] = $0[index] &+ amount }
    }

    /// The total within the window ending at `time`.
    public mutating func total(at time: UInt64) -> UInt64 {
        advance(to: time)
        return withBuckets { $0.reduce(0) { $0 + UInt64($1) } }
    }

    /// Events per second over the window ending at `time`.
    public mutating func rate(at time: UInt64) -> Double {
        Double(total(at: time)) / seconds
    }

    private mutating func advance(to time: UInt64) {
        let bucket = time / bucketNanoseconds
        guard bucket > newestBucket else { return }
        let stale = min(bucket - newestBucket, UInt64(Self.bucketCount))
        let newest = newestBucket
        withBuckets { buckets in
            for step in 1...stale {
                buckets[Int((newest + step) % UInt64(Self.bucketCount))] = 0
            }
        }
        newestBucket = bucket
    }

    private mutating func withBuckets<R>(_ body: (UnsafeMutableBufferPointer<UInt32>) -> R) -> R {
        withUnsafeMutableBytes(of: &buckets) { body($0.bindMemory(to: UInt32.self)) }
    }

    public static func == (lhs: SlidingWindow, rhs: SlidingWindow) -> Bool {
        lhs.bucketNanoseconds == rhs.bucketNanoseconds && lhs.newestBucket == rhs.newestBucket
            && withUnsafeBytes(of: lhs.buckets) { left in withUnsafeBytes(of: rhs.buckets) { left.elementsEqual($0) } }
    }
}
