import Agent
import TraceFormat

/// When a trace starts and ends, by kernel time: its first event (the
/// test start) and the latest time replay reaches (the last event, or the
/// `ktime_ns` of the probe.stopped line, to which replay runs the clock).
struct TraceSpan {
    /// nil for a trace without events.
    private(set) var firstEvent: UInt64?
    private(set) var end: UInt64 = 0

    /// Reads the whole trace as Replay does; its first bad line is the error.
    init(path: String) throws(TraceError) {
        let reader = try TraceReader(path: path, mode: .stopOnError,
                                     reorderToleranceNanoseconds: Replay.Options().reorderToleranceNanoseconds)
        while let entry = try reader.next() {
            switch entry {
            case .event(let event, _):
                if firstEvent == nil { firstEvent = event.monotonicNanoseconds }
                end = max(end, event.monotonicNanoseconds)
            case .passthrough("probe.stopped", let bytes, _):
                if let stop = (try? JSONValue(parsing: bytes))?["ktime_ns"]?.number?.uint64 { end = max(end, stop) }
            case .started, .identity, .passthrough:
                break
            }
        }
    }
}
