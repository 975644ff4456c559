import ProbeEvents

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
    /// Reads the agent's own event lines fast; the rest go to the parser.
    private let scanner = AgentLineScanner()

    /// `terminated` is false for a last line without "\n", which is
    /// reported as truncated when it is not complete JSON. An event line's
    /// event is decoded into `event` (`.event`); any other line leaves
    /// `event` undefined.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, line number: Int, terminated: Bool,
                         into event: inout ProbeEvent) throws(LineError) -> TraceReader.Item {
        // A line whose time goes backwards is left to the parser's path, which reports it.
        if let scanned = scanner.scan(bytes, into: &event), accept(event.monotonicNanoseconds, line: number) {
            learnDropReason(of: event, name: scanned.dropReasonName.map { String(decoding: $0, as: UTF8.self) })
            return .event
        }
        return try decodeParsed(bytes, line: number, terminated: terminated, into: &event)
    }

    /// The general reading: the line parsed as JSON, then decoded by type.
    mutating func decodeParsed(_ bytes: UnsafeRawBufferPointer, line number: Int, terminated: Bool,
                               into event: inout ProbeEvent) throws(LineError) -> TraceReader.Item {
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
        if let type = EventLineDecoder.LineType.byName[eventType] {
            event = try EventLineDecoder.decode(line, type: type)
            try checkOrder(event.monotonicNanoseconds, of: line, number: number)
            learnDropReason(of: event, name: try? line["reason"]?.string())
            return .event
        }
        if eventType == IdentityLineDecoder.eventType {
            return .entry(.identity(try IdentityLineDecoder.decode(line), line: number))
        }
        if eventType == StartLineDecoder.eventType {
            let start = try StartLineDecoder.decode(line)
            // A new run (traces appended with --output): its clock may restart.
            previousEvent = nil
            return .entry(.started(start, line: number))
        }
        return .entry(.passthrough(eventType: eventType, bytes: Array(bytes), line: number))
    }

    /// Accepts an event's time: counted when it is out of order but within
    /// the tolerance, else the latest; false (and nothing changed) when it
    /// goes back further.
    private mutating func accept(_ time: UInt64, line number: Int) -> Bool {
        guard let previous = previousEvent, time < previous.nanoseconds else {
            previousEvent = (time, number)
            return true
        }
        guard previous.nanoseconds - time <= reorderTolerance else { return false }
        reorderedEvents += 1
        return true
    }

    private mutating func learnDropReason(of event: ProbeEvent, name: @autoclosure () -> String?) {
        if event.kind == .drop, dropReasonNames[event.dropReason] == nil, let name = name() {
            dropReasonNames[event.dropReason] = name
        }
    }

    private mutating func checkOrder(_ time: UInt64, of line: LineObject, number: Int) throws(LineError) {
        if !accept(time, line: number), let previous = previousEvent {
            let source = line["ktime_ns"] ?? line["ts"]
            let name = line["ktime_ns"] == nil ? "ts × 1000000" : "ktime_ns"
            throw LineError(
                column: source?.column,
                message: "time goes backwards: \(name) \(time) is smaller than the previous event's \(previous.nanoseconds) (line \(previous.line))")
        }
    }
}
