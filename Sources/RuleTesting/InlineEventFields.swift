import ProbeEvents
import RuleLanguage
import TraceFormat

/// The keys of an inline event besides its timing: its owner, its
/// connection, and those particular to its type.
extension InlineEventParser {
    func readOwner(_ keys: KeyedMapping, into event: inout ProbeEvent, diagnostics: inout Diagnostics) {
        if let pid = keys.number("pid", in: 0...UInt32.max, diagnostics: &diagnostics) {
            event.owner.pid = pid
            event.owner.tid = pid
            event.owner.source = pid == 0 ? .none : .socket
        }
        if let tid = keys.number("tid", in: 0...UInt32.max, diagnostics: &diagnostics) { event.owner.tid = tid }
        if let uid = keys.number("uid", in: 0...UInt32.max, diagnostics: &diagnostics) { event.owner.uid = uid }
        if let cgroup = keys.number("cgroup_id", in: 0...UInt64.max, diagnostics: &diagnostics) { event.owner.cgroupID = cgroup }
        let file = self.file
        if let comm = keys.read("comm", diagnostics: &diagnostics, { node throws(RuleFileError) in
            let (text, mark) = try scalarText(node, key: "comm", file: file)
            guard text.utf8.count <= 15 else {
                throw RuleFileError(file: file, at: mark, "'comm' must be at most 15 bytes, as the kernel keeps it")
            }
            return text
        }) { event.owner.command = Command(comm) }
    }

    func readConnection(_ keys: KeyedMapping, into event: inout ProbeEvent, diagnostics: inout Diagnostics) {
        let local = readAddress("saddr", keys, diagnostics: &diagnostics)
        let remote = readAddress("daddr", keys, diagnostics: &diagnostics)
        if let local { event.connection.localAddress = local }
        if let remote { event.connection.remoteAddress = remote }
        let families = Set([local, remote].compactMap { $0.map { $0.isIPv4Mapped ? AddressFamily.ipv4 : .ipv6 } })
        if families.count > 1, let mark = keys.mark(ofKey: "daddr") {
            diagnostics.record(mark, "'saddr' and 'daddr' must both be IPv4 or both IPv6")
        }
        event.connection.family = families.first ?? .unspecified
        if let sport = keys.number("sport", in: 0...UInt16.max, diagnostics: &diagnostics) { event.connection.localPort = sport }
        if let dport = keys.number("dport", in: 0...UInt16.max, diagnostics: &diagnostics) { event.connection.remotePort = dport }
        event.connection.state = event.kind == .processExit ? .unknown : .established
        if let state = keys.oneOf("tcp_state", among: TCPState.allCases.map { ("\($0.name)", $0) }, diagnostics: &diagnostics) {
            event.connection.state = state
        }
        if let cookie = keys.number("cookie", in: 0...UInt64.max, diagnostics: &diagnostics) { event.socketCookie = cookie }
        if let netns = keys.number("netns", in: 0...UInt32.max, diagnostics: &diagnostics) { event.networkNamespace = netns }
    }

    /// The keys particular to each type.
    mutating func readDetails(_ keys: KeyedMapping, typeName: String, into event: inout ProbeEvent,
                              diagnostics: inout Diagnostics) {
        if event.kind == .retransmit {
            event.segments = keys.number("segments", in: 0...UInt32.max, diagnostics: &diagnostics) ?? 1
            event.cause = keys.oneOf("cause", among: RetransmitCause.allCases.map { ("\($0.name)", $0) },
                                     diagnostics: &diagnostics) ?? .other
            if event.cause == .synAck { event.kind = .synAckRetransmit }
            event.congestionState = event.cause == .rto ? .loss : event.cause == .fastRetransmit ? .recovery : .open
        }
        let states = CongestionState.allCases.map { ("\($0.name)", $0) }
        if let state = keys.oneOf("ca_state", among: states, diagnostics: &diagnostics) { event.congestionState = state }
        if let previous = keys.oneOf("previous_ca_state", among: states, diagnostics: &diagnostics) {
            event.previousCongestionState = previous
        }
        if let backoff = keys.number("backoff", in: 0...UInt8.max, diagnostics: &diagnostics) { event.backoff = backoff }
        // The socket's timing, which dates blocked spells (unknown: 0).
        if let srtt = keys.number("srtt_us", in: 0...UInt32.max, diagnostics: &diagnostics) {
            event.smoothedRTTMicroseconds = srtt
        }
        if let rto = keys.number("rto_us", in: 0...UInt32.max, diagnostics: &diagnostics) {
            event.retransmitTimeoutMicroseconds = rto
        }
        if let packets = keys.number("packets_out", in: 0...UInt8.max, diagnostics: &diagnostics) {
            event.packetsOut = packets
        }
        if typeName == "transport.retransmit_failed" {
            event.error = -(keys.read("error", diagnostics: &diagnostics, readErrorNumber) ?? 16)
        }
        if let exitCode = keys.number("exit_code", in: 0...UInt32.max, diagnostics: &diagnostics) { event.dropReason = exitCode }
        if event.kind == .drop {
            let file = self.file
            let reason = keys.read("reason", diagnostics: &diagnostics) { node throws(RuleFileError) in
                try nonEmptyText(node, key: "reason", file: file).text
            } ?? "NOT_SPECIFIED"
            event.dropReason = code(forReason: reason)
        }
    }

    private func readAddress(_ key: String, _ keys: KeyedMapping, diagnostics: inout Diagnostics) -> IPAddress? {
        let file = self.file
        return keys.read(key, diagnostics: &diagnostics) { node throws(RuleFileError) in
            let (text, mark) = try scalarText(node, key: key, file: file)
            guard let address = IPAddress(text: text) else {
                throw RuleFileError(file: file, at: mark, "'\(key)' must be an IPv4 or IPv6 address such as 10.0.0.2, not '\(text)'")
            }
            return address
        }
    }

    /// An errno name as the agent writes it (EBUSY, ENOMEM, E42, ...).
    private func readErrorNumber(_ node: YAMLNode) throws(RuleFileError) -> Int32 {
        let (text, mark) = try scalarText(node, key: "error", file: file)
        guard let number = (Int32(1)...4095).first(where: { ErrorNumber.name(-$0) == text }) else {
            throw RuleFileError(file: file, at: mark, "'error' must be an errno name such as EBUSY, ENOMEM or EAGAIN, not '\(text)'")
        }
        return number
    }

    /// Inline events name drop reasons; the engine keys them by code, so
    /// each name gets one, in order of first use.
    private mutating func code(forReason name: String) -> UInt32 {
        if let code = reasonCodes[name] { return code }
        let code = UInt32(reasonCodes.count + 1)
        reasonCodes[name] = code
        return code
    }
}
