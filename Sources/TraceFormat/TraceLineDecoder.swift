/// Turns one line of a trace into a TraceEntry, and checks that event
/// time never goes backwards from one event line to the next.
struct TraceLineDecoder {
    /// The latest event time accepted, and its line number.
    private var previousEvent: (nanoseconds: UInt64, line: Int)?
    /// How far an event may be earlier than the latest one and still be
    /// accepted: the ring buffer merges CPUs, so live traces hold events
    /// out of order by microseconds.
    var reorderTolerance: UInt64 = 0
    /// Events accepted within the tolerance.
    private(set) var reorderedEvents = 0
    /// Drop reason names the trace's lines carry, by code: a replay on a
    /// machine without BTF names them as the recording machine did.
    private(set) var dropReasonNames: [UInt32: String] = [:]

    /// `terminated` is false for a last line without "\n", which is
    /// reported as truncated when it is not complete JSON.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, line number: Int, terminated: Bool) throws(LineError) -> TraceEntry {
        guard let firstByte = bytes.firstIndex(where: { !isJSONWhitespace($0) }) else {
            throw LineError(column: nil, message: "blank line (expected a JSON object)")
        }
        var parser = JSONParser(bytes)
        let root: JSONValue
        do {
            root = try parser.parseDocument()
        } catch {
            let context = terminated ? "" : "last line is truncated (no newline at the end of the file): "
            throw LineError(column: error.column, message: context + error.message)
        }
        guard case .object(let members) = root else {
            throw LineError(column: firstByte + 1, message: "expected a JSON object, got \(root.typeDescription)")
        }
        let line = LineObject(bytes: bytes, members: members, valueOffsets: parser.topLevelValueOffsets)
        let eventType = try line.require("event_type", "a string").string()
        if EventLineDecoder.eventTypes.contains(eventType) {
            let event = try EventLineDecoder.decode(line, eventType: eventType)
            try checkOrder(event.monotonicNanoseconds, of: line, number: number)
            if event.kind == .drop, dropReasonNames[event.dropReason] == nil, let name = try? line["reason"]?.string() {
                dropReasonNames[event.dropReason] = name
            }
            return .event(event, line: number)
        }
        if eventType == IdentityLineDecoder.eventType {
            return .identity(try IdentityLineDecoder.decode(line), line: number)
        }
        if eventType == StartLineDecoder.eventType {
            let start = try StartLineDecoder.decode(line)
            // A new run (traces appended with --output): its clock may restart.
            previousEvent = nil
            return .started(start, line: number)
        }
        return .passthrough(eventType: eventType, bytes: Array(bytes), line: number)
    }

    private mutating func checkOrder(_ time: UInt64, of line: LineObject, number: Int) throws(LineError) {
        if let previous = previousEvent, time < previous.nanoseconds, previous.nanoseconds - time <= reorderTolerance {
            reorderedEvents += 1
            return
        }
        if let previous = previousEvent, time < previous.nanoseconds {
            let source = line["ktime_ns"] ?? line["ts"]
            let name = line["ktime_ns"] == nil ? "ts × 1000000" : "ktime_ns"
            throw LineError(
                column: source?.column,
                message: "time goes backwards: \(name) \(time) is smaller than the previous event's \(previous.nanoseconds) (line \(previous.line))")
        }
        previousEvent = (time, number)
    }
}
