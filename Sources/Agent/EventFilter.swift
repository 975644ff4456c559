import ProbeEvents

/// Which events the user asked for; an empty set means "any".
public struct EventFilter: Sendable {
    public var pids: Set<UInt32> = []
    public var cgroupIDs: Set<UInt64> = []
    public var ports: Set<UInt16> = []

    public init(pids: Set<UInt32> = [], cgroupIDs: Set<UInt64> = [], ports: Set<UInt16> = []) {
        self.pids = pids
        self.cgroupIDs = cgroupIDs
        self.ports = ports
    }

    public var acceptsEverything: Bool { pids.isEmpty && cgroupIDs.isEmpty && ports.isEmpty }

    /// A cgroup matches on the owner's cgroup or the socket's own.
    /// Whether lines about process `pid` in cgroup `cgroupID` may pass
    /// (its identity): ports say nothing about a process, and pass it.
    public func acceptsProcess(_ pid: UInt32, cgroupID: UInt64) -> Bool {
        (pids.isEmpty || pids.contains(pid)) && (cgroupIDs.isEmpty || cgroupIDs.contains(cgroupID))
    }

    public func accepts(_ event: ProbeEvent) -> Bool {
        if !pids.isEmpty && !pids.contains(event.owner.pid) { return false }
        if !cgroupIDs.isEmpty && !cgroupIDs.contains(event.owner.cgroupID)
            && !cgroupIDs.contains(event.socketCgroupID) { return false }
        if !ports.isEmpty && !ports.contains(event.connection.localPort)
            && !ports.contains(event.connection.remotePort) { return false }
        return true
    }
}
