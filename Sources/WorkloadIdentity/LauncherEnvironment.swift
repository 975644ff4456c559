/// What a training launcher told a process through its environment: the
/// rank and world of PyTorch (torchrun), Slurm, MPI and MindSpore, and the
/// rendezvous that ties a job's ranks together.
public struct LauncherEnvironment: Equatable, Sendable {
    /// Global rank: RANK (torchrun), else OMPI_COMM_WORLD_RANK, PMI_RANK,
    /// SLURM_PROCID, RANK_ID (MindSpore), in that order.
    public var rank: UInt32?
    public var localRank: UInt32?
    /// WORLD_SIZE, else OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_NTASKS, RANK_SIZE.
    public var worldSize: UInt32?
    /// GROUP_RANK: the node's rank in a torchrun job.
    public var groupRank: UInt32?
    public var runID: String?
    public var masterAddress: String?
    public var masterPort: UInt16?
    public var slurmJob: UInt64?
    /// MS_ROLE (MindSpore: MS_WORKER, MS_SCHED, MS_PSERVER).
    public var role: String?

    public init() {}

    /// The variables read, and only those: the rest of an environment is
    /// none of the agent's business (and may hold secrets).
    public static let variables = [
        "RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT",
        "SLURM_JOB_ID", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "RANK_ID", "RANK_SIZE",
        "MS_ROLE",
    ]

    /// Longest value kept: a run id or host name, not a payload.
    public static let maximumValueLength = 128

    /// Reads an environment block: `NAME=value` entries separated by NUL
    /// bytes, as in /proc/PID/environ (a truncated last entry is dropped).
    /// Values that are not what the launcher writes (a rank that is not a
    /// number, an over-long id, control characters) are left out.
    public init(block: some BidirectionalCollection<UInt8>) {
        self.init(head: block, tail: EmptyCollection())
    }

    /// Reads a block of which only the start (`head`) and the end (`tail`)
    /// are known: an entry cut at either side of the gap is dropped, as is
    /// an entry cut at the end of `head` when there is no tail.
    public init(head: some BidirectionalCollection<UInt8>, tail: some BidirectionalCollection<UInt8>) {
        self.init()
        var values: [String: String] = [:]
        // Up to the head's last NUL: what follows is an entry cut short.
        let wholeHead = head.last == 0 ? head[...] : head[..<(head.lastIndex(of: 0) ?? head.startIndex)]
        // From the tail's first NUL on: what comes before is the end of an entry.
        let wholeTail = tail.isEmpty ? tail[...] : tail[(tail.firstIndex(of: 0).map { tail.index(after: $0) } ?? tail.endIndex)...]
        let entries = wholeHead.split(separator: 0, omittingEmptySubsequences: true).map { Array($0) }
            + wholeTail.split(separator: 0, omittingEmptySubsequences: true).map { Array($0) }
        for entry in entries {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
            guard Self.variables.contains(name) else { continue }
            let value = entry[entry.index(after: equals)...]
            guard !value.isEmpty, value.count <= Self.maximumValueLength,
                  value.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { continue }
            values[name] = String(decoding: value, as: UTF8.self)
        }
        func number<T: FixedWidthInteger>(_ names: String...) -> T? {
            for name in names { if let text = values[name], let value = T(text) { return value } }
            return nil
        }
        rank = number("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", "RANK_ID")
        localRank = number("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID")
        worldSize = number("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", "RANK_SIZE")
        groupRank = number("GROUP_RANK")
        runID = values["TORCHELASTIC_RUN_ID"]
        masterAddress = values["MASTER_ADDR"]
        masterPort = number("MASTER_PORT")
        slurmJob = number("SLURM_JOB_ID")
        role = values["MS_ROLE"]
    }

    /// Nothing a launcher set.
    public var isEmpty: Bool { self == LauncherEnvironment() }
}

/// A key that groups one job's processes on this node, by what is known,
/// most specific first: the launcher's run id, the Slurm job, the pod, or
/// the rendezvous address and port.
public enum JobKey: Equatable, Hashable, Sendable, CustomStringConvertible {
    case run(String)
    case slurm(UInt64)
    case pod(String)
    case rendezvous(address: String, port: UInt16)

    public init?(launcher: LauncherEnvironment, cgroup: CgroupWorkload) {
        if let run = launcher.runID {
            self = .run(run)
        } else if let job = launcher.slurmJob ?? cgroup.slurmJob {
            self = .slurm(job)
        } else if let pod = cgroup.podUID {
            self = .pod(pod)
        } else if let address = launcher.masterAddress, let port = launcher.masterPort {
            self = .rendezvous(address: address, port: port)
        } else {
            return nil
        }
    }

    /// The `job` field of lines: `run:<id>`, `slurm:<id>`, `pod:<uid>`,
    /// `rdzv:<address>:<port>`.
    public var description: String {
        switch self {
        case .run(let id): "run:\(id)"
        case .slurm(let id): "slurm:\(id)"
        case .pod(let uid): "pod:\(uid)"
        case .rendezvous(let address, let port): "rdzv:\(address):\(port)"
        }
    }
}
