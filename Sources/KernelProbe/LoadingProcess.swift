import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Runs a job that needs much memory for a moment in a child process and
/// takes back what it made: descriptors and bytes. Loading the probe is
/// such a job: libbpf reads the kernel's BTF (megabytes, held twice while
/// it parses) to relocate and attach the programs, and a process's peak
/// resident memory counts that for as long as it runs. In the child, the
/// peak ends with the child; the agent receives the maps and links and
/// never holds the BTF.
///
/// The child is a fork of the caller. Call it at start-up, while no other
/// thread of the process can be holding a lock the job needs (an idle
/// thread waiting on a condition is fine).
enum LoadingProcess {
    struct Answer: Equatable {
        var descriptors: [Int32]
        var bytes: [UInt8]
    }

    /// More than the probe passes (its links and maps).
    static let mostDescriptors = 64

    /// Runs `job` in a child process and returns its answer; the
    /// descriptors are the receiver's own (close-on-exec), and the child's
    /// copies close when it exits, before this returns.
    static func run(_ job: () -> Answer) throws(ProbeError) -> Answer {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw .system(call: "socketpair", errno: errno)
        }
        let parent = getpid()
        let child = fork()
        if child < 0 {
            let code = errno
            close(ends[0])
            close(ends[1])
            throw .system(call: "fork (the process that loads the probe)", errno: code)
        }
        if child == 0 {
            close(ends[0])
            // Not outlive an agent killed while it waits (nor one gone already).
            if ark_die_with_parent() != 0 || getppid() != parent { _exit(1) }
            // Big buffers (the kernel's BTF, read and parsed twice) in mappings
            // of their own, unmapped when freed. By default glibc raises its
            // mapping threshold to the size of the first such buffer freed, and
            // the next ones stay in the heap once freed: ~5.5 MB still charged
            // to the agent's memory cgroup while the maps are created.
            mallopt(M_MMAP_THRESHOLD, 128 * 1024)
            let sent = send(job(), over: ends[1])
            // No atexit handlers, no flush of stdio buffers the parent owns too.
            _exit(sent ? 0 : 1)
        }
        close(ends[1])
        let received = receive(from: ends[0])
        close(ends[0])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        switch received {
        case .success(let answer):
            return answer
        case .failure(let problem):
            throw .loadingProcessFailed("\(problem), and it \(describe(exitStatus: status))")
        }
    }

    /// The answer's length (8 bytes, with the descriptors attached), then the bytes.
    private static func send(_ answer: Answer, over socket: Int32) -> Bool {
        guard answer.descriptors.count <= mostDescriptors else { return false }
        var length = UInt64(answer.bytes.count)
        let controlSize = answer.descriptors.isEmpty
            ? 0 : ark_cmsg_space(answer.descriptors.count * MemoryLayout<Int32>.size)
        var control = [UInt8](repeating: 0, count: controlSize)
        let headerSent = withUnsafeMutableBytes(of: &length) { header in
            control.withUnsafeMutableBytes { control in
                var vector = iovec(iov_base: header.baseAddress, iov_len: header.count)
                return withUnsafeMutablePointer(to: &vector) { vector in
                    var message = msghdr()
                    message.msg_iov = vector
                    message.msg_iovlen = 1
                    if !answer.descriptors.isEmpty {
                        message.msg_control = control.baseAddress
                        message.msg_controllen = control.count
                        let header = ark_cmsg_firsthdr(&message)!
                        header.pointee.cmsg_level = SOL_SOCKET
                        header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                        header.pointee.cmsg_len = ark_cmsg_len(answer.descriptors.count * MemoryLayout<Int32>.size)
                        answer.descriptors.withUnsafeBytes {
                            UnsafeMutableRawPointer(ark_cmsg_data(header)).copyMemory(from: $0.baseAddress!,
                                                                                     byteCount: $0.count)
                        }
                    }
                    return sendmsg(socket, &message, Int32(MSG_NOSIGNAL)) == header.count
                }
            }
        }
        guard headerSent else { return false }
        return answer.bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                offset += count
            }
            return true
        }
    }

    private static func receive(from socket: Int32) -> Result<Answer, LoadingProcessProblem> {
        var length: UInt64 = 0
        var descriptors: [Int32] = []
        var control = [UInt8](repeating: 0, count: ark_cmsg_space(mostDescriptors * MemoryLayout<Int32>.size))
        var headerCount = 0
        var truncated = false
        while headerCount < MemoryLayout<UInt64>.size {
            let count = withUnsafeMutableBytes(of: &length) { header in
                control.withUnsafeMutableBytes { control in
                    var vector = iovec(iov_base: header.baseAddress! + headerCount, iov_len: header.count - headerCount)
                    return withUnsafeMutablePointer(to: &vector) { vector in
                        var message = msghdr()
                        message.msg_iov = vector
                        message.msg_iovlen = 1
                        message.msg_control = control.baseAddress
                        message.msg_controllen = control.count
                        let count = recvmsg(socket, &message, Int32(MSG_CMSG_CLOEXEC))
                        guard count > 0 else { return count }
                        truncated = truncated || message.msg_flags & Int32(MSG_CTRUNC) != 0
                        var header = ark_cmsg_firsthdr(&message)
                        while let current = header {
                            if current.pointee.cmsg_level == SOL_SOCKET, current.pointee.cmsg_type == Int32(SCM_RIGHTS) {
                                let bytes = Int(current.pointee.cmsg_len) - ark_cmsg_len(0)
                                let data = UnsafeRawPointer(ark_cmsg_data(current)!)
                                for index in 0..<bytes / MemoryLayout<Int32>.size {
                                    descriptors.append(data.loadUnaligned(
                                        fromByteOffset: index * MemoryLayout<Int32>.size, as: Int32.self))
                                }
                            }
                            header = ark_cmsg_nxthdr(&message, current)
                        }
                        return count
                    }
                }
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                descriptors.forEach { close($0) }
                return .failure(count == 0 ? .endedWithoutAnswer : .readFailed(errno))
            }
            headerCount += count
        }
        if truncated || length > UInt64(Int32.max) {
            descriptors.forEach { close($0) }
            return .failure(.malformedAnswer)
        }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + offset, $0.count - offset, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                descriptors.forEach { close($0) }
                return .failure(count == 0 ? .endedWithoutAnswer : .readFailed(errno))
            }
            offset += count
        }
        return .success(Answer(descriptors: descriptors, bytes: bytes))
    }

    private static func describe(exitStatus status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
        return "was killed by signal \(signal) (\(name))"
    }
}

private enum LoadingProcessProblem: Error, CustomStringConvertible {
    case endedWithoutAnswer
    case readFailed(Int32)
    case malformedAnswer

    var description: String {
        switch self {
        case .endedWithoutAnswer: return "the process that loads the probe ended without answering"
        case .readFailed(let code): return "reading the loading process's answer failed (\(errnoName(code)))"
        case .malformedAnswer: return "the process that loads the probe answered with malformed data"
        }
    }
}
