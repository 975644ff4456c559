#if canImport(Glibc)
import Glibc
#endif

/// Splits a file into lines, reading it in 64 KiB chunks. A line is kept
/// only up to `limit` bytes: the rest of a longer one is skipped up to the
/// next newline, so a huge line costs no more memory than a normal one.
struct LineSplitter {
    enum Line {
        /// The line is read with `withLine`.
        case text(terminated: Bool)
        /// A line of `length` bytes, more than the limit: skipped.
        case tooLong(length: Int)
    }

    static let chunkSize = 64 * 1024

    let descriptor: Int32
    let limit: Int
    /// The current line (valid until the next call of `next`), when it
    /// was put together from more than one read; see `withLine`.
    private(set) var text: [UInt8] = []
    /// The current line's place in `chunk`, when it lies whole in it.
    private var lineInChunk: Range<Int>?
    private var chunk = [UInt8](repeating: 0, count: chunkSize)
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(descriptor: Int32, limit: Int) {
        self.descriptor = descriptor
        self.limit = limit
        // Never grows past this: longer lines are skipped, not kept.
        text.reserveCapacity(limit + 1)
    }

    /// The next line; nil at the end of the file.
    mutating func next() throws(ReadFailure) -> Line? {
        if !text.isEmpty { text.removeAll(keepingCapacity: true) }
        lineInChunk = nil
        // The usual line lies whole in the chunk: handed out in place.
        if start < end, let newline = firstNewline(), newline - start <= limit {
            let stop = newline > start && chunk[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
            lineInChunk = start..<stop
            start = newline + 1
            return .text(terminated: true)
        }
        var length = 0
        var lastByte: UInt8 = 0
        var overflowed = false
        while !(atEnd && start == end) {
            if start == end {
                try fill()
                continue
            }
            let newline = firstNewline()
            let stop = newline ?? end
            if stop > start {
                length += stop - start
                lastByte = chunk[stop - 1]
                // limit + 1: room for the "\r" of a "\r\n" line of exactly `limit` bytes.
                if overflowed || text.count + (stop - start) > limit + 1 {
                    overflowed = true
                } else {
                    text.append(contentsOf: chunk[start..<stop])
                }
            }
            start = stop
            if newline != nil {
                start += 1
                return finish(length: length, lastByte: lastByte, overflowed: overflowed, terminated: true)
            }
        }
        return length == 0 ? nil : finish(length: length, lastByte: lastByte, overflowed: overflowed, terminated: false)
    }

    /// The current line's bytes, without its "\n" or "\r\n". Mutating only
    /// so that a splitter kept in a class is used in place, not copied.
    mutating func withLine<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // withUnsafeBufferPointer, unlike withUnsafeBytes, passes a typed error on.
        guard let lineInChunk else {
            return try text.withUnsafeBufferPointer { bytes throws(Failure) in try body(UnsafeRawBufferPointer(bytes)) }
        }
        return try chunk.withUnsafeBufferPointer { bytes throws(Failure) in
            try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[lineInChunk]))
        }
    }

    private func firstNewline() -> Int? {
        chunk.withUnsafeBytes { buffer -> Int? in
            guard let base = buffer.baseAddress, let found = memchr(base + start, 0x0A, end - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    private mutating func finish(length: Int, lastByte: UInt8, overflowed: Bool, terminated: Bool) -> Line {
        var length = length
        if terminated && length > 0 && lastByte == UInt8(ascii: "\r") {
            length -= 1
            if !overflowed { text.removeLast() }
        }
        guard !overflowed && length <= limit else {
            text.removeAll(keepingCapacity: true)
            return .tooLong(length: length)
        }
        return .text(terminated: terminated)
    }

    private mutating func fill() throws(ReadFailure) {
        let descriptor = self.descriptor
        let (count, code) = chunk.withUnsafeMutableBytes { buffer -> (Int, Int32) in
            while true {
                let count = read(descriptor, buffer.baseAddress, buffer.count)
                if count >= 0 || errno != EINTR { return (count, errno) }
            }
        }
        guard count >= 0 else {
            atEnd = true
            start = 0
            end = 0
            throw ReadFailure(code: code)
        }
        start = 0
        end = count
        atEnd = count == 0
    }
}

/// A failed read(2): its errno.
struct ReadFailure: Error {
    var code: Int32

    var message: String { String(cString: strerror(code)) }
}
