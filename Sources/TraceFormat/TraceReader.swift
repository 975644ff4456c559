import ProbeEvents
#if canImport(Glibc)
import Glibc
#endif

/// Reads a recorded JSONL trace back, line by line, into typed entries
/// (see TraceEntry; event lines as EventLineDecoder describes).
///
/// Lines end in "\n" or "\r\n"; a last line without "\n" is read when it
/// is complete JSON and reported as truncated otherwise. Lines longer than
/// `maximumLineLength` bytes, blank lines, lines that are not a JSON
/// object with a string `event_type`, event lines with a missing or
/// wrongly typed key, and events whose time is before the previous
/// event's (until the next probe.started line) are errors. In
/// `.stopOnError` mode `next()` throws the first one; in `.skipBadLines`
/// mode the line is skipped, counted in `skippedLines` and kept in
/// `errors` (the first `keptErrorLimit` of them). Either way, the next
/// call reads on from the following line. A failing read(2) ends the
/// trace with an error in both modes.
///
/// Memory stays bounded whatever the file holds: one 64 KiB chunk, one
/// line of at most `maximumLineLength` bytes, and the parsed line.
public final class TraceReader {
    public enum Mode: Sendable {
        case stopOnError
        case skipBadLines
    }

    public static let maximumLineLength = 64 * 1024
    public static let keptErrorLimit = 100

    /// The path, as given: the `file` of every TraceError.
    public let file: String
    public let mode: Mode
    /// Lines skipped in `.skipBadLines` mode.
    public private(set) var skippedLines = 0
    /// The first `keptErrorLimit` errors of the skipped lines.
    public private(set) var errors: [TraceError] = []

    private let descriptor: Int32
    // Unchecked: a reader is used from one thread, and dynamic exclusivity
    // checks cost more per line than splitting it.
    /// Internal for the tests, which check that its buffer stays bounded.
    @exclusivity(unchecked) private(set) var splitter: LineSplitter
    @exclusivity(unchecked) private var decoder = TraceLineDecoder()
    @exclusivity(unchecked) private var lineNumber = 0
    @exclusivity(unchecked) private var finished = false

    /// `reorderToleranceNanoseconds`: how much earlier than the latest
    /// event an event may be and still be read (counted in
    /// `reorderedEvents`); earlier still is an error.
    public init(path: String, mode: Mode = .stopOnError, reorderToleranceNanoseconds: UInt64 = 0) throws(TraceError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw TraceError(file: path, line: 0, column: nil, message: "cannot open: \(ReadFailure(code: errno).message)")
        }
        self.file = path
        self.mode = mode
        self.descriptor = descriptor
        splitter = LineSplitter(descriptor: descriptor, limit: Self.maximumLineLength)
        decoder.reorderTolerance = reorderToleranceNanoseconds
    }

    /// Bytes of the file read so far (a little ahead of the entries handed
    /// out: the reader buffers), for progress reports.
    public var bytesRead: UInt64 { UInt64(max(0, lseek(descriptor, 0, SEEK_CUR))) }

    /// Events read although earlier than the latest before them.
    public var reorderedEvents: Int { decoder.reorderedEvents }

    /// Drop reason names found on the lines read so far, by code.
    public var dropReasonNames: [UInt32: String] { decoder.dropReasonNames }

    deinit {
        close(descriptor)
    }

    /// What `next(decodingEventInto:)` read.
    public enum Item {
        /// An event line: its event is in the buffer given.
        case event
        /// Any other line (boxed: an item is copied per line, and a
        /// TraceEntry is large).
        indirect case entry(TraceEntry)
    }

    /// The next entry; nil at the end of the trace.
    public func next() throws(TraceError) -> TraceEntry? {
        var event = ProbeEvent(kind: .processExit, monotonicNanoseconds: 0)
        switch try next(decodingEventInto: &event) {
        case .event: return .event(event, line: lineNumber)
        case .entry(let entry): return entry
        case nil: return nil
        }
    }

    /// The same, but an event line's event is decoded into `event` in place
    /// (a ProbeEvent is large, and a replay reads little else): `.event`.
    /// Any other line leaves `event` undefined.
    public func next(decodingEventInto event: inout ProbeEvent) throws(TraceError) -> Item? {
        while !finished {
            let line: LineSplitter.Line
            do {
                guard let next = try splitter.next() else {
                    finished = true
                    return nil
                }
                line = next
            } catch {
                finished = true
                throw TraceError(file: file, line: lineNumber + 1, column: nil, message: "cannot read: \(error.message)")
            }
            lineNumber += 1
            do {
                return try decode(line, into: &event)
            } catch {
                let error = TraceError(file: file, line: lineNumber, column: error.column, message: error.message)
                guard mode == .skipBadLines else { throw error }
                skippedLines += 1
                if errors.count < Self.keptErrorLimit { errors.append(error) }
            }
        }
        return nil
    }

    private func decode(_ line: LineSplitter.Line, into event: inout ProbeEvent) throws(LineError) -> Item {
        switch line {
        case .tooLong(let length):
            throw LineError(
                column: nil,
                message: "line is too long: \(length) bytes, the limit is \(Self.maximumLineLength) (skipped to the next line)")
        case .text(let terminated):
            let number = lineNumber
            return try splitter.withLine { bytes throws(LineError) in
                try decoder.decode(bytes, line: number, terminated: terminated, into: &event)
            }
        }
    }
}
