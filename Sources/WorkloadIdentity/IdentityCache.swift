/// Who a process is, as far as its cgroup and its launcher say.
public struct WorkloadIdentity: Equatable, Sendable {
    public var cgroupPath: String?
    public var cgroup = CgroupWorkload()
    public var launcher = LauncherEnvironment()

    public init(cgroupPath: String? = nil, cgroup: CgroupWorkload = CgroupWorkload(),
                launcher: LauncherEnvironment = LauncherEnvironment()) {
        self.cgroupPath = cgroupPath
        self.cgroup = cgroup
        self.launcher = launcher
    }

    /// The key that groups this job's processes on the node, if any.
    public var job: JobKey? { JobKey(launcher: launcher, cgroup: cgroup) }
}

import ProbeEvents

/// Identities resolved once per process and dropped at its exit, within a
/// bound: a node that churns short-lived processes must not grow it, and
/// an identity is read from /proc (or the kernel's copy) only once. Each
/// is kept with its line fields, encoded once.
public struct IdentityCache: Sendable {
    /// A class: the engine and the pipeline pass it per event, and a copy
    /// of the identity itself (many strings) cost a memcpy each time.
    public final class Entry: Sendable {
        public let identity: WorkloadIdentity
        /// The process's comm when it was told.
        public let command: Command
        /// `identity.encodedFields`, made when it was stored.
        public let fields: [UInt8]

        init(identity: WorkloadIdentity, command: Command, fields: [UInt8]) {
            self.identity = identity
            self.command = command
            self.fields = fields
        }
    }

    public let capacity: Int
    public private(set) var entries: [UInt32: Entry] = [:]
    /// Insertion order, for evicting the oldest when full (with lazily
    /// skipped pids that already left).
    private var order: [UInt32] = []
    private var orderStart = 0
    public private(set) var evictions: UInt64 = 0
    /// Changes with every insert, removal and eviction: a caller that kept
    /// an entry knows it still holds while this has not moved.
    public private(set) var version: UInt64 = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    public subscript(pid: UInt32) -> Entry? { entries[pid] }

    /// Stores (or replaces) the identity of `pid`; true when it changed.
    @discardableResult
    public mutating func insert(_ identity: WorkloadIdentity, command: Command = Command(), for pid: UInt32) -> Bool {
        if let known = entries[pid] {
            guard known.identity != identity else { return false }
        } else {
            if entries.count >= capacity { evictOldest() }
            order.append(pid)
        }
        entries[pid] = Entry(identity: identity, command: command, fields: identity.encodedFields)
        version &+= 1
        return true
    }

    /// The process exited: its pid may be reused by another.
    public mutating func remove(_ pid: UInt32) {
        if entries.removeValue(forKey: pid) != nil { version &+= 1 }
    }

    private mutating func evictOldest() {
        while orderStart < order.count {
            let pid = order[orderStart]
            orderStart += 1
            if entries.removeValue(forKey: pid) != nil {
                evictions += 1
                version &+= 1
                break
            }
        }
        // Keep the order list from growing with pids long gone.
        if orderStart > capacity {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }
}
