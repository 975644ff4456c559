#if canImport(Glibc)
import Glibc
#endif
import ProbeEvents
import TraceFormat

/// Bytes → a trace file → `TraceReader`, read to the end in both modes,
/// and `JSONValue(parsing:)` over the whole input. The reader promises
/// (see TraceReader.swift and issue 4, "Bad input"): every line is either
/// an entry or an error naming the file, that line and a column inside it
/// — never dropped silently; after an error the next call reads on; and an
/// event it decodes is one the encoder writes back to the same event.
enum TraceReaderHarness {
    /// One file per process, rewritten for every input.
    static let path: String = {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        return "\(directory)/arkprobe-fuzz-trace-\(getpid()).jsonl"
    }()
    static let roundTripPath = path + ".again"
    /// Tolerance of the second pass (skipping bad lines): 1 ms.
    static let reorderTolerance: UInt64 = 1_000_000

    /// The byte length of each line as the reader splits them (on "\n",
    /// a "\r" before it not counted; a last line without "\n" counts when
    /// it is not empty).
    static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            let crlf = index > start && bytes[index - 1] == 0x0D
            ranges.append(start..<(index - (crlf ? 1 : 0)))
            start = index + 1
        }
        if start < bytes.count { ranges.append(start..<bytes.count) }
        return ranges
    }

    static func run(_ bytes: [UInt8]) -> FuzzOutcome {
        var violations: [String] = []
        let ranges = lineRanges(bytes)
        let lengths = ranges.map(\.count)
        _ = try? JSONValue(parsing: bytes)
        guard writeFile(path, bytes) else {
            return FuzzOutcome(accepted: false, violations: ["cannot write \(path)"], summary: "no trace")
        }
        defer { unlink(path) }

        // Pass 1: stop on each error, then read on, as the caller may.
        var stopErrors: [TraceError] = []
        var stopEntries = 0
        do {
            let reader = try TraceReader(path: path, mode: .stopOnError)
            var calls = 0
            reading: while calls <= lengths.count + 1 {
                calls += 1
                do {
                    guard let entry = try reader.next() else { break reading }
                    stopEntries += 1
                    check(entry, expectedLine: stopEntries + stopErrors.count, bytes: bytes, ranges: ranges, &violations)
                } catch {
                    stopErrors.append(error)
                    check(error, expectedLine: stopEntries + stopErrors.count, lengths: lengths, &violations)
                }
            }
            if calls > lengths.count + 1 {
                violations.append("stop-on-error reader still returns after \(calls) calls on \(lengths.count) lines")
            }
            if stopEntries + stopErrors.count != lengths.count {
                violations.append("stop-on-error: \(stopEntries) entries + \(stopErrors.count) errors for \(lengths.count) lines")
            }
        } catch {
            violations.append("cannot open the trace: \(error)")
        }

        // Pass 2: skip bad lines, counting them; round-trip every event.
        var events: [ProbeEvent] = []
        var skipEntries = 0
        var skipped = 0
        do {
            let reader = try TraceReader(path: path, mode: .skipBadLines, reorderToleranceNanoseconds: reorderTolerance)
            var lastLine = 0
            var calls = 0
            reading: while calls <= lengths.count + 1 {
                calls += 1
                do {
                    guard let entry = try reader.next() else { break reading }
                    skipEntries += 1
                    if entry.line <= lastLine || entry.line > lengths.count {
                        violations.append("skip mode: entry of line \(entry.line) after line \(lastLine), \(lengths.count) lines")
                    }
                    lastLine = entry.line
                    if case .event(let event, _) = entry { events.append(event) }
                } catch {
                    violations.append("skip mode threw: \(error)")
                    break reading
                }
            }
            skipped = reader.skippedLines
            if calls > lengths.count + 1 {
                violations.append("skip-bad-lines reader still returns after \(calls) calls on \(lengths.count) lines")
            }
            if skipEntries + skipped != lengths.count {
                violations.append("skip mode: \(skipEntries) entries + \(skipped) skipped for \(lengths.count) lines")
            }
            if reader.errors.count != min(skipped, TraceReader.keptErrorLimit) {
                violations.append("skip mode kept \(reader.errors.count) errors for \(skipped) skipped lines")
            }
            var previous = 0
            for error in reader.errors {
                check(error, expectedLine: nil, lengths: lengths, &violations)
                if error.line <= previous { violations.append("skip mode: errors out of order: \(error)") }
                previous = error.line
            }
            roundTrip(events, dropReasonNames: reader.dropReasonNames, &violations)
        } catch {
            violations.append("cannot open the trace: \(error)")
        }

        return FuzzOutcome(
            accepted: stopErrors.isEmpty && skipped == 0,
            errors: stopErrors.map { LocatedError(file: $0.file, line: $0.line, column: $0.column, message: $0.message) },
            violations: violations,
            summary: "\(lengths.count) lines: \(stopEntries) entries, \(stopErrors.count) errors (stop mode); "
                + "\(skipEntries) entries, \(skipped) skipped, \(events.count) events (skip mode)")
    }

    /// An entry of the line it says, and a pass-through line unchanged.
    private static func check(_ entry: TraceEntry, expectedLine: Int, bytes: [UInt8], ranges: [Range<Int>],
                              _ violations: inout [String]) {
        guard entry.line == expectedLine, (1...ranges.count).contains(entry.line) else {
            violations.append("entry says line \(entry.line), but is line \(expectedLine) of \(ranges.count)")
            return
        }
        if case .passthrough(let type, let text, let line) = entry, text[...] != bytes[ranges[line - 1]] {
            violations.append("pass-through line \(line) (\(type)) changed: \(text.count) bytes for \(ranges[line - 1].count)")
        }
    }

    /// A located error: this file, the line it is (when known), a column
    /// inside the line or just past it.
    private static func check(_ error: TraceError, expectedLine: Int?, lengths: [Int], _ violations: inout [String]) {
        if error.file != path { violations.append("error names '\(error.file)': \(error)") }
        if error.message.isEmpty { violations.append("error without a message: \(error)") }
        if let expectedLine, error.line != expectedLine {
            violations.append("error on line \(error.line), expected line \(expectedLine): \(error)")
        }
        guard error.line >= 1 && error.line <= lengths.count else {
            violations.append("error on line \(error.line) of \(lengths.count): \(error)")
            return
        }
        if let column = error.column, !(1...lengths[error.line - 1] + 1).contains(column) {
            violations.append("error at column \(column) of a \(lengths[error.line - 1])-byte line: \(error)")
        }
    }

    /// Every event read is written back by the agent's encoder, read again
    /// and written again: the two writings are the same bytes. (Not the
    /// event itself: a line the encoder did not write may carry keys the
    /// encoder leaves out for that kind, such as the `tcp_state` of a drop
    /// without a socket, and those are not kept.)
    private static func roundTrip(_ events: [ProbeEvent], dropReasonNames: [UInt32: String], _ violations: inout [String]) {
        guard !events.isEmpty else { return }
        let first = encode(events, dropReasonNames: dropReasonNames)
        guard writeFile(roundTripPath, first) else {
            violations.append("cannot write \(roundTripPath)")
            return
        }
        defer { unlink(roundTripPath) }
        do {
            let reader = try TraceReader(path: roundTripPath, mode: .stopOnError, reorderToleranceNanoseconds: .max)
            var again: [ProbeEvent] = []
            while let entry = try reader.next() {
                guard case .event(let event, _) = entry else {
                    violations.append("round trip: an event came back as \(entry)")
                    continue
                }
                again.append(event)
            }
            let second = encode(again, dropReasonNames: reader.dropReasonNames)
            if second != first {
                let lines = (first.split(separator: 0x0A), second.split(separator: 0x0A))
                let index = zip(lines.0, lines.1).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(lines.0.count, lines.1.count)
                func line(_ lines: [ArraySlice<UInt8>]) -> String {
                    index < lines.count ? String(decoding: lines[index], as: UTF8.self) : "nothing"
                }
                violations.append("round trip differs at event \(index + 1): wrote \(line(lines.0)), read back and wrote \(line(lines.1))")
            }
        } catch {
            violations.append("round trip: the encoder's line does not read back: \(error)")
        }
    }

    private static func encode(_ events: [ProbeEvent], dropReasonNames: [UInt32: String]) -> [UInt8] {
        let encoder = EventLineEncoder(clock: WallClock(offsetNanoseconds: 0), dropReasonNames: dropReasonNames)
        var writer = JSONLineWriter(capacity: 4096)
        for event in events { encoder.encode(event, into: &writer) }
        return writer.bytes
    }
}
