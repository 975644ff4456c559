#if canImport(Glibc)
import Glibc
#endif

/// Where JSONL goes: a file descriptor written with write(2), whole lines
/// at a time.
public final class LineOutput {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The reader went away (EPIPE): not an error for the agent.
        case closed
        case cannotOpen(path: String, errno: Int32)
        case writeFailed(errno: Int32)

        public var description: String {
            switch self {
            case .closed: "the output was closed by its reader"
            case .cannotOpen(let path, let code):
                "cannot open \(path) for writing: \(String(cString: strerror(code))). "
                    + "Check that its directory exists and is writable."
            case .writeFailed(let code): "cannot write output: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The descriptor written to; a pipe or socket can be polled for its
    /// reader going away.
    public let descriptor: Int32
    private let ownsDescriptor: Bool

    /// Standard output.
    public init() {
        descriptor = STDOUT_FILENO
        ownsDescriptor = false
    }

    /// A file, created if needed and appended to: a restarted agent never
    /// overwrites what it wrote before.
    public init(appendingTo path: String) throws(Failure) {
        let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        descriptor = opened
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    public func write(_ bytes: [UInt8]) throws(Failure) {
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(Failure) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes every byte, retrying short writes and EINTR.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(Failure) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw errno == EPIPE ? .closed : .writeFailed(errno: errno)
            }
            offset += written
        }
    }
}
