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

/// Identities resolved once per process and dropped at its exit, within a
/// bound: a node that churns short-lived processes must not grow it, and
/// an identity is read from /proc (or the kernel's copy) only once.
public struct IdentityCache: Sendable {
    public let capacity: Int
    private var identities: [UInt32: WorkloadIdentity] = [:]
    /// Insertion order, for evicting the oldest when full (with lazily
    /// skipped pids that already left).
    private var order: [UInt32] = []
    private var orderStart = 0
    public private(set) var evictions: UInt64 = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { identities.count }

    /// The identity of `pid`, resolved by `resolve` the first time only.
    public mutating func identity(of pid: UInt32, resolve: (UInt32) -> WorkloadIdentity) -> WorkloadIdentity {
        if let known = identities[pid] { return known }
        let identity = resolve(pid)
        if identities.count >= capacity { evictOldest() }
        identities[pid] = identity
        order.append(pid)
        return identity
    }

    /// The process exited: its pid may be reused by another.
    public mutating func remove(_ pid: UInt32) {
        identities[pid] = nil
    }

    private mutating func evictOldest() {
        while orderStart < order.count {
            let pid = order[orderStart]
            orderStart += 1
            if identities.removeValue(forKey: pid) != nil {
                evictions += 1
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
