// A two-namespace network lab for end-to-end tests.
//
//   sender netns "arkp-s-<pid>-<n>"            receiver netns "arkp-r-<pid>-<n>"
//   ark-s 10.199.N.1/24, fd00:a7c:N::1/64 <-veth-> ark-r 10.199.N.2/24, fd00:a7c:N::2/64
//
// Packet loss comes from iptables/ip6tables rules on the receiver's INPUT
// chain (sch_netem is not available on our kernels). Everything a lab creates
// lives inside its two namespaces, so deleting them removes the veth pair and
// the rules; child processes are killed first. Use `NamespaceLab.make(for:)`
// in a test so the cleanup is registered as a teardown block and runs even
// when the test fails; `deinit` cleans up as well, and labs left behind by a
// crashed test process are removed the next time a lab is created.
//
// Needs root and iproute2 + iptables. Otherwise the lab throws XCTSkip, or a
// failure when ARK_PROBE_REQUIRE_KERNEL_TESTS=1 (CI).

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Output of a command run to completion.
struct CommandResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
}

final class NamespaceLab: @unchecked Sendable {
    static let namePrefix = "arkp-"
    static let senderInterface = "ark-s"
    static let receiverInterface = "ark-r"

    let senderNamespace: String
    let receiverNamespace: String
    /// N in 10.199.N.0/24 and fd00:a7c:N::/64 (1...250).
    let subnet: Int
    let senderIPv4: String
    let receiverIPv4: String
    let senderIPv6: String
    let receiverIPv6: String
    /// The built `ark-lab-traffic` executable.
    let trafficBinary: URL

    private let ipTool: String
    private let lock = NSLock()
    private var processes: [LabProcess] = []
    private var tornDown = false
    private var namespacesCreated: [String] = []

    nonisolated(unsafe) private static var nextIndex = 0
    private static let indexLock = NSLock()

    // MARK: Creation

    /// Creates a lab and registers its teardown with `testCase`, so it is
    /// cleaned up even when the test fails or throws.
    static func make(for testCase: XCTestCase) throws -> NamespaceLab {
        let lab = try NamespaceLab()
        testCase.addTeardownBlock { lab.tearDown() }
        return lab
    }

    init() throws {
        let ip = try Self.checkPrerequisites()
        ipTool = ip
        trafficBinary = try Self.productURL(named: "ark-lab-traffic")

        Self.removeStaleNamespaces(ip: ip)

        let index: Int = Self.indexLock.withLock {
            defer { Self.nextIndex += 1 }
            return Self.nextIndex
        }
        let pid = Int(getpid())
        senderNamespace = "\(Self.namePrefix)s-\(pid)-\(index)"
        receiverNamespace = "\(Self.namePrefix)r-\(pid)-\(index)"
        subnet = Self.pickSubnet(ip: ip, pid: pid, index: index)
        senderIPv4 = "10.199.\(subnet).1"
        receiverIPv4 = "10.199.\(subnet).2"
        senderIPv6 = "fd00:a7c:\(subnet)::1"
        receiverIPv6 = "fd00:a7c:\(subnet)::2"

        do {
            try build()
        } catch {
            tearDown()
            throw error
        }
    }

    deinit {
        tearDown()
    }

    private func build() throws {
        let s = senderNamespace, r = receiverNamespace
        let sIf = Self.senderInterface, rIf = Self.receiverInterface
        // Fixed MACs so that the neighbour entries can be static: without
        // them the first IPv6 connection waits ~1 s for neighbour discovery
        // (the first solicitation on a fresh veth goes unanswered).
        let hex = String(format: "%02x", subnet)
        let sMAC = "02:a7:c0:\(hex):00:01", rMAC = "02:a7:c0:\(hex):00:02"

        let first = try runTool([ipTool, "netns", "add", s], check: false)
        if first.status != 0 {
            try Self.unavailable("`ip netns add` failed: \(first.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        namespacesCreated.append(s)
        try ip(["netns", "add", r])
        namespacesCreated.append(r)
        try ip(["link", "add", "name", sIf, "address", sMAC, "netns", s, "type", "veth",
                "peer", "name", rIf, "address", rMAC, "netns", r])
        for (ns, dev, v4, v6) in [(s, sIf, senderIPv4, senderIPv6), (r, rIf, receiverIPv4, receiverIPv6)] {
            try ip(["-n", ns, "link", "set", "lo", "up"])
            try ip(["-n", ns, "addr", "add", "\(v4)/24", "dev", dev])
            try ip(["-n", ns, "addr", "add", "\(v6)/64", "dev", dev, "nodad"])
            try ip(["-n", ns, "link", "set", dev, "up"])
        }
        try ip(["-n", s, "neigh", "replace", receiverIPv4, "lladdr", rMAC, "dev", sIf, "nud", "permanent"])
        try ip(["-n", s, "neigh", "replace", receiverIPv6, "lladdr", rMAC, "dev", sIf, "nud", "permanent"])
        try ip(["-n", r, "neigh", "replace", senderIPv4, "lladdr", sMAC, "dev", rIf, "nud", "permanent"])
        try ip(["-n", r, "neigh", "replace", senderIPv6, "lladdr", sMAC, "dev", rIf, "nud", "permanent"])
    }

    // MARK: Teardown

    /// Kills every child process and deletes both namespaces (which removes
    /// the veth pair and the iptables rules). Idempotent.
    func tearDown() {
        let (children, namespaces): ([LabProcess], [String]) = lock.withLock {
            if tornDown { return ([], []) }
            tornDown = true
            defer { processes.removeAll(); namespacesCreated.removeAll() }
            return (processes, namespacesCreated)
        }
        for child in children where child.isRunning { child.terminate() }
        for child in children where child.isRunning {
            if child.waitForExit(timeout: 2) == nil { child.kill() }
        }
        for child in children { _ = child.waitForExit(timeout: 2) }
        for ns in namespaces {
            Self.killProcesses(inNamespace: ns, ip: ipTool)
            _ = try? runTool([ipTool, "netns", "del", ns], check: false)
        }
    }

    // MARK: Packet loss (receiver INPUT chain, IPv4 and IPv6)

    /// Drops TCP packets to `port` at random with the given probability.
    /// `dataOnly` restricts it to packets of 200 bytes or more, so SYN, FIN
    /// and pure ACKs always get through and every retransmission the sender
    /// makes is a data retransmission counted while the socket is open.
    func dropRandom(port: Int, probability: Double, dataOnly: Bool) throws {
        var rule = ["-p", "tcp", "--dport", String(port)]
        if dataOnly { rule += ["-m", "length", "--length", "200:65535"] }
        rule += ["-m", "statistic", "--mode", "random", "--probability", String(probability), "-j", "DROP"]
        try addReceiverRule(rule)
    }

    /// Drops every TCP packet to `port` (for SYN retransmissions).
    func dropAll(port: Int) throws {
        try addReceiverRule(["-p", "tcp", "--dport", String(port), "-j", "DROP"])
    }

    /// Removes all drop rules.
    func clearDrops() throws {
        for tool in ["iptables", "ip6tables"] {
            try runTool([ipTool, "netns", "exec", receiverNamespace, tool, "-w", "-F", "INPUT"])
        }
    }

    /// Packets dropped so far by the lab's rules (IPv4 + IPv6).
    func droppedPackets() throws -> Int {
        var total = 0
        for tool in ["iptables", "ip6tables"] {
            let out = try runTool([ipTool, "netns", "exec", receiverNamespace, tool, "-w", "-L", "INPUT", "-v", "-n", "-x"]).stdout
            for line in out.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count >= 3, fields[2] == "DROP", let packets = Int(fields[0]) { total += packets }
            }
        }
        return total
    }

    private func addReceiverRule(_ rule: [String]) throws {
        for tool in ["iptables", "ip6tables"] {
            try runTool([ipTool, "netns", "exec", receiverNamespace, tool, "-w", "-A", "INPUT"] + rule)
        }
    }

    // MARK: Processes

    /// Starts `ark-lab-traffic <arguments>` in the sender or receiver
    /// namespace. `ip netns exec` execs in place, so `LabProcess.pid` is the
    /// traffic generator's own pid (the one it reports).
    /// `environment`: NAME=value entries added to its environment (`env`
    /// execs in place too).
    func spawn(inSender: Bool, _ arguments: [String], environment: [String] = []) throws -> LabProcess {
        try spawnCommand(inSender: inSender, (environment.isEmpty ? [] : ["env"] + environment) + [trafficBinary.path] + arguments)
    }

    /// Starts any command in a namespace, with the same stdin/stdout handling.
    func spawnCommand(inSender: Bool, _ command: [String]) throws -> LabProcess {
        let ns = inSender ? senderNamespace : receiverNamespace
        let process = try LabProcess(argv: [ipTool, "netns", "exec", ns] + command)
        let tooLate: Bool = lock.withLock {
            if tornDown { return true }
            processes.append(process)
            return false
        }
        if tooLate {
            process.kill()
            throw LabError("lab already torn down")
        }
        return process
    }

    /// Starts `ark-lab-traffic sink` in the receiver namespace and waits
    /// until it listens.
    func startSink(port: Int, waitForGo: Bool = false, extraArguments: [String] = []) throws -> LabProcess {
        var args = ["sink", "--port", String(port)]
        if waitForGo { args.append("--wait-for-go") }
        let sink = try spawn(inSender: false, args + extraArguments)
        try waitForListener(port: port, inSender: false, process: sink)
        return sink
    }

    /// Waits until something listens on TCP `port` in a namespace.
    func waitForListener(port: Int, inSender: Bool, timeout: TimeInterval = 10, process: LabProcess? = nil) throws {
        let ns = inSender ? senderNamespace : receiverNamespace
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let out = try runTool([ipTool, "netns", "exec", ns, "ss", "-Hltn", "sport = :\(port)"], check: false)
            if out.status == 0 && out.stdout.contains("LISTEN") { return }
            if let process, !process.isRunning {
                throw LabError("listener on port \(port) exited early (status \(process.exitStatus ?? -1)): \(process.stderrText)")
            }
            usleep(20_000)
        }
        throw LabError("nothing listens on port \(port) in \(ns) after \(timeout) s")
    }

    /// Runs a command to completion inside the sender namespace.
    @discardableResult
    func runInSender(_ command: [String], check: Bool = true) throws -> CommandResult {
        try runTool([ipTool, "netns", "exec", senderNamespace] + command, check: check)
    }

    /// Runs a command to completion inside the receiver namespace.
    @discardableResult
    func runInReceiver(_ command: [String], check: Bool = true) throws -> CommandResult {
        try runTool([ipTool, "netns", "exec", receiverNamespace] + command, check: check)
    }

    /// A counter of the namespace's TCP MIB from /proc/net/snmp ("Tcp:"
    /// line, shared by IPv4 and IPv6), e.g. "RetransSegs". The kernel's
    /// ground truth for everything retransmitted in that namespace,
    /// including segments of already-closed (orphaned) sockets.
    func tcpCounter(_ name: String, inSender: Bool = true) throws -> Int {
        guard let v = try counters(inSender: inSender)["Tcp.\(name)"] else {
            throw LabError("no TCP counter \(name) in /proc/net/snmp")
        }
        return v
    }

    /// All SNMP and netstat counters of a namespace, keyed "Tcp.RetransSegs",
    /// "TcpExt.TCPLossProbes", "TcpExt.TCPSpuriousRTOs", ... (what `nstat -a`
    /// shows, from /proc/net/snmp and /proc/net/netstat).
    func counters(inSender: Bool = true) throws -> [String: Int] {
        let command = ["cat", "/proc/net/snmp", "/proc/net/netstat"]
        let text = try (inSender ? runInSender(command) : runInReceiver(command)).stdout
        var result: [String: Int] = [:]
        var header: (prefix: Substring, keys: [Substring])?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let first = fields.first, first.hasSuffix(":") else { continue }
            let prefix = first.dropLast()
            if let h = header, h.prefix == prefix {
                for (key, value) in zip(h.keys, fields.dropFirst()) { result["\(prefix).\(key)"] = Int(value) }
                header = nil
            } else {
                header = (prefix, Array(fields.dropFirst()))
            }
        }
        return result
    }

    /// A sysctl of a namespace, e.g. "net.ipv4.tcp_syn_linear_timeouts"; nil
    /// if this kernel does not have it.
    func sysctl(_ name: String, inSender: Bool = true) throws -> String? {
        let path = "/proc/sys/" + name.replacingOccurrences(of: ".", with: "/")
        let result = try (inSender ? runInSender(["cat", path], check: false) : runInReceiver(["cat", path], check: false))
        return result.status == 0 ? result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    // MARK: Helpers

    @discardableResult
    private func ip(_ args: [String]) throws -> CommandResult {
        try runTool([ipTool] + args)
    }

    /// Runs argv[0] (an absolute path) with arguments; throws on a non-zero
    /// exit when `check` is set.
    @discardableResult
    func runTool(_ argv: [String], check: Bool = true) throws -> CommandResult {
        try Self.run(argv, check: check)
    }

    @discardableResult
    static func run(_ argv: [String], check: Bool = true) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read stderr on another thread so neither pipe can fill up and block.
        let errData = LockedBox(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        // Process.waitUntilExit() sleeps in 50 ms run-loop slices; the lab
        // runs dozens of short commands, so poll instead.
        while process.isRunning { usleep(500) }
        let result = CommandResult(status: process.terminationStatus,
                                   stdout: String(decoding: outData, as: UTF8.self),
                                   stderr: String(decoding: errData.value, as: UTF8.self))
        if check && result.status != 0 {
            throw LabError("`\(argv.joined(separator: " "))` exited with \(result.status): \(result.stderr)")
        }
        return result
    }

    /// Finds a tool in PATH and the sbin directories.
    static func findTool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for dir in dirs {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The directory holding the package's built products (the test bundle
    /// sits in it), for `swift test` with any --scratch-path. Also used to
    /// find `ark-probe`. ARK_LAB_PRODUCTS overrides it.
    static func productURL(named name: String) throws -> URL {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["ARK_LAB_PRODUCTS"] {
            candidates.append(URL(fileURLWithPath: dir))
        }
        let bundle = Bundle(for: NamespaceLab.self).bundleURL
        candidates += [bundle.deletingLastPathComponent(), bundle]
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(exe.deletingLastPathComponent())
        }
        let selfExe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(selfExe.deletingLastPathComponent())
        for dir in candidates {
            let url = dir.appendingPathComponent(name)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue,
               access(url.path, X_OK) == 0 {
                return url
            }
        }
        throw LabError("cannot find the built product \(name) (looked in \(candidates.map(\.path))); build it or set ARK_LAB_PRODUCTS")
    }

    /// Root, `ip`, `iptables`, `ip6tables`, `ss` are required. Returns the
    /// path of `ip`.
    private static func checkPrerequisites() throws -> String {
        var problems: [String] = []
        if geteuid() != 0 { problems.append("not running as root (network namespaces and iptables need it)") }
        var tools: [String: String] = [:]
        for tool in ["ip", "iptables", "ip6tables", "ss"] {
            if let path = findTool(tool) { tools[tool] = path } else { problems.append("`\(tool)` not found") }
        }
        if !problems.isEmpty { try unavailable(problems.joined(separator: "; ")) }
        return tools["ip"]!
    }

    /// Skips, or fails when the environment demands kernel tests.
    private static func unavailable(_ reason: String) throws -> Never {
        let message = "namespace lab unavailable: \(reason)"
        if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" {
            throw LabError(message + " (ARK_PROBE_REQUIRE_KERNEL_TESTS=1, so this is a failure, not a skip)")
        }
        throw XCTSkip(message + " (set ARK_PROBE_REQUIRE_KERNEL_TESTS=1 to make this a failure)")
    }

    /// Our namespaces: arkp-s-<pid>-<n> / arkp-r-<pid>-<n>.
    private static func ownNamespaces(ip: String) -> [(name: String, pid: Int32)] {
        guard let out = try? run([ip, "netns", "list"], check: false).stdout else { return [] }
        var result: [(String, Int32)] = []
        for line in out.split(separator: "\n") {
            guard let name = line.split(separator: " ").first.map(String.init) else { continue }
            let parts = name.split(separator: "-")
            guard parts.count == 4, parts[0] == "arkp", parts[1] == "s" || parts[1] == "r",
                  let pid = Int32(parts[2]), Int(parts[3]) != nil else { continue }
            result.append((name, pid))
        }
        return result
    }

    /// Deletes namespaces left by lab processes that no longer exist (and
    /// kills whatever still runs inside them).
    private static func removeStaleNamespaces(ip: String) {
        for (name, pid) in ownNamespaces(ip: ip) {
            let alive = Glibc.kill(pid, 0) == 0 || errno == EPERM
            guard !alive else { continue }
            killProcesses(inNamespace: name, ip: ip)
            _ = try? run([ip, "netns", "del", name], check: false)
        }
    }

    private static func killProcesses(inNamespace ns: String, ip: String) {
        guard let out = try? run([ip, "netns", "pids", ns], check: false).stdout else { return }
        for pid in out.split(separator: "\n").compactMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }) {
            _ = Glibc.kill(pid, SIGKILL)
        }
    }

    /// A subnet not used by another live lab (the agent sees all namespaces,
    /// so concurrent labs should not share addresses).
    private static func pickSubnet(ip: String, pid: Int, index: Int) -> Int {
        var used = Set<Int>()
        for (name, _) in ownNamespaces(ip: ip) {
            guard let out = try? run([ip, "-n", name, "-4", "-o", "addr", "show"], check: false).stdout else { continue }
            for match in out.split(separator: " ") where match.hasPrefix("10.199.") {
                let octets = match.split(separator: ".")
                if octets.count >= 3, let n = Int(octets[2]) { used.insert(n) }
            }
        }
        let start = (pid &* 37 &+ index) % 250
        for k in 0..<250 {
            let candidate = (start + k) % 250 + 1
            if !used.contains(candidate) { return candidate }
        }
        return start + 1
    }
}

// MARK: - LabProcess

/// A child process with a stdin pipe and line-buffered stdout/stderr.
final class LabProcess: @unchecked Sendable {
    let argv: [String]
    let pid: Int32

    private let process: Process
    private let stdinHandle: FileHandle
    private let condition = NSCondition()
    private var lines: [String] = []
    private var stdoutClosed = false
    private var stderrBuffer = ""
    private var stdinClosed = false

    init(argv: [String]) throws {
        self.argv = argv
        process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        pid = process.processIdentifier
        stdinHandle = input.fileHandleForWriting
        let outFD = output.fileHandleForReading
        let errFD = errors.fileHandleForReading
        Thread.detachNewThread { [self] in
            pump(outFD) { text in
                self.condition.withLock {
                    self.lines.append(text)
                    self.condition.broadcast()
                }
            }
            condition.withLock {
                stdoutClosed = true
                condition.broadcast()
            }
        }
        Thread.detachNewThread { [self] in
            let verbose = ProcessInfo.processInfo.environment["ARK_LAB_VERBOSE"] == "1"
            pump(errFD) { text in
                if verbose { FileHandle.standardError.write(Data((text + "\n").utf8)) }
                self.condition.withLock { self.stderrBuffer += text + "\n" }
            }
        }
    }

    /// Reads `handle` to EOF, calling `line` for each complete line.
    private func pump(_ handle: FileHandle, _ line: (String) -> Void) {
        let fd = handle.fileDescriptor
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let nl = pending.firstIndex(of: 10) {
                line(String(decoding: pending[..<nl], as: UTF8.self))
                pending.removeSubrange(...nl)
            }
        }
        if !pending.isEmpty { line(String(decoding: pending, as: UTF8.self)) }
        try? handle.close()
    }

    var isRunning: Bool { process.isRunning }

    /// The exit status once the process has exited (signal number if killed).
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// Everything written to stderr so far.
    var stderrText: String { condition.withLock { stderrBuffer } }

    /// Writes one line (newline added) to the child's stdin.
    func writeLine(_ line: String) throws {
        let closed = condition.withLock { stdinClosed }
        if closed { throw LabError("stdin of \(argv.last ?? "child") already closed") }
        do {
            try stdinHandle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw LabError("writing to stdin of pid \(pid) failed: \(error)")
        }
    }

    /// Closes the child's stdin (EOF).
    func closeStdin() {
        let wasClosed: Bool = condition.withLock {
            defer { stdinClosed = true }
            return stdinClosed
        }
        if !wasClosed { try? stdinHandle.close() }
    }

    /// The next stdout line, or nil on timeout or when stdout is closed and
    /// every line has been read.
    func readLine(timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while lines.isEmpty && !stdoutClosed {
            if !condition.wait(until: deadline) { break }
        }
        return lines.isEmpty ? nil : lines.removeFirst()
    }

    /// The next stdout line parsed as a JSON object. Throws on timeout, on a
    /// malformed line, and when the line reports an "error".
    func readJSON(timeout: TimeInterval = 60) throws -> LabJSON {
        guard let line = readLine(timeout: timeout) else {
            let state = isRunning ? "still running" : "exited with \(exitStatus ?? -1)"
            throw LabError("no output line from pid \(pid) within \(timeout) s (\(state)); stderr:\n\(stderrText)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw LabError("not a JSON object line from pid \(pid): \(line)")
        }
        let json = LabJSON(raw: line, object: object)
        if let message = json.string("error") {
            throw LabError("pid \(pid) reported an error: \(message); stderr:\n\(stderrText)")
        }
        return json
    }

    /// Waits for the process to exit; returns its status, or nil on timeout.
    @discardableResult
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
        return process.terminationStatus
    }

    /// SIGTERM.
    func terminate() {
        if process.isRunning { _ = Glibc.kill(pid, SIGTERM) }
    }

    /// SIGKILL.
    func kill() {
        if process.isRunning { _ = Glibc.kill(pid, SIGKILL) }
    }
}

/// One JSON object line from a child process.
struct LabJSON: CustomStringConvertible, @unchecked Sendable {
    let raw: String
    let object: [String: Any]

    subscript(key: String) -> Any? { object[key] }

    func int(_ key: String) -> Int? {
        if let n = object[key] as? Int { return n }
        if let n = object[key] as? NSNumber { return n.intValue }
        return nil
    }

    func string(_ key: String) -> String? { object[key] as? String }

    var description: String { raw }
}

/// A value shared with another thread under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Cgroups a test makes, named as runtimes name theirs.
extension XCTestCase {
    /// The cgroup v2 mount (hybrid hosts mount it at /sys/fs/cgroup/unified).
    static func cgroup2Mount() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2" else { continue }
            return String(fields[4])
        }
        return nil
    }

    /// Creates the test's cgroups under `<mount>/arkp-<pid>` and removes
    /// them at teardown (after the lab has killed their processes).
    func makeCgroups(_ paths: [String]) throws -> (root: String, prefix: String) {
        guard let mount = XCTestCase.cgroup2Mount() else {
            let message = "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)"
            if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" { throw LabError(message) }
            throw XCTSkip(message)
        }
        let prefix = "/arkp-\(getpid())"
        for path in paths {
            try FileManager.default.createDirectory(atPath: mount + prefix + path, withIntermediateDirectories: true)
        }
        addTeardownBlock {
            // Deepest first; a process that just exited may hold its cgroup a moment.
            let all = paths.flatMap { path in
                var prefixes: [String] = []
                var current = ""
                for component in path.split(separator: "/") {
                    current += "/" + component
                    prefixes.append(current)
                }
                return prefixes
            }
            let ordered = Set(all).sorted { $0.split(separator: "/").count > $1.split(separator: "/").count } + [""]
            for _ in 0..<50 {
                for path in ordered { rmdir(mount + prefix + path) }
                if access(mount + prefix, F_OK) != 0 { return }
                usleep(100_000)
            }
            XCTFail("could not remove \(mount + prefix)")
        }
        return (mount + prefix, prefix)
    }

}
