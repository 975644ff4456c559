import ProbeEvents

extension WorkloadIdentity {
    /// The fields of a `process.identity` line, in the order written.
    public static let fieldNames = [
        "job", "rank", "local_rank", "world_size", "group_rank", "run_id", "master_addr", "master_port", "ms_role",
        "slurm_job", "slurm_step", "container_id", "container_runtime", "pod_uid", "qos_class", "systemd_unit",
        "cgroup_path",
    ]

    /// The value of line field `name`: a string or a number, nil when not known.
    public func field(_ name: String) -> IdentityFieldValue? {
        func number(_ value: (some BinaryInteger)?) -> IdentityFieldValue? { value.map { .number(UInt64($0)) } }
        func text(_ value: String?) -> IdentityFieldValue? { value.map { .string($0) } }
        switch name {
        case "job": return text(job?.description)
        case "rank": return number(launcher.rank)
        case "local_rank": return number(launcher.localRank)
        case "world_size": return number(launcher.worldSize)
        case "group_rank": return number(launcher.groupRank)
        case "run_id": return text(launcher.runID)
        case "master_addr": return text(launcher.masterAddress)
        case "master_port": return number(launcher.masterPort)
        case "ms_role": return text(launcher.role)
        case "slurm_job": return number(launcher.slurmJob ?? cgroup.slurmJob)
        case "slurm_step": return text(cgroup.slurmStep)
        case "container_id": return text(cgroup.containerID)
        case "container_runtime": return text(cgroup.runtime?.rawValue)
        case "pod_uid": return text(cgroup.podUID)
        case "qos_class": return text(cgroup.qosClass?.rawValue)
        case "systemd_unit": return text(cgroup.systemdUnit)
        case "cgroup_path": return text(cgroupPath)
        default: return nil
        }
    }

    /// The fields every other line of the process carries: who it is, in
    /// short (the rest, derived or rarely needed, is on its identity line).
    public static let lineFieldNames = [
        "job", "rank", "local_rank", "world_size", "slurm_job", "slurm_step", "container_id", "pod_uid", "cgroup_path",
    ]

    /// The known fields of every line, each with its leading comma
    /// (`,"job":"run:3f2c","rank":0`); empty when nothing is known.
    public var encodedFields: [UInt8] { encode(Self.lineFieldNames) }

    /// All known fields, for the `process.identity` line.
    public var encodedIdentityFields: [UInt8] { encode(Self.fieldNames) }

    private func encode(_ names: [String]) -> [UInt8] {
        var line = JSONLineWriter(capacity: 256)
        line.beginObject()
        for name in names {
            switch field(name) {
            case .number(let value)?: line.field(name, Double(value))
            case .string(let value)?: line.field(name, value)
            case nil: continue
            }
        }
        guard line.count > 1 else { return [] }
        var bytes = line.bytes
        bytes[0] = UInt8(ascii: ",")
        return bytes
    }

    /// `,"job":"<key>"`: what a line about a whole job carries.
    public static func encodedJobField(_ key: String) -> [UInt8] {
        var line = JSONLineWriter(capacity: 64)
        line.beginObject()
        line.field("job", key)
        var bytes = line.bytes
        bytes[0] = UInt8(ascii: ",")
        return bytes
    }

    /// Rebuilds an identity from the fields of a line (a replay): what the
    /// cgroup path says is read from it again; the launcher's view comes
    /// from its own fields. `value` gives a field's value, or nil.
    public init(fields value: (String) -> IdentityFieldValue?) {
        func number<T: FixedWidthInteger>(_ name: String) -> T? {
            if case .number(let number)? = value(name) { return T(exactly: number) }
            return nil
        }
        func text(_ name: String) -> String? {
            if case .string(let text)? = value(name) { return text }
            return nil
        }
        var launcher = LauncherEnvironment()
        launcher.rank = number("rank")
        launcher.localRank = number("local_rank")
        launcher.worldSize = number("world_size")
        launcher.groupRank = number("group_rank")
        launcher.runID = text("run_id")
        launcher.masterAddress = text("master_addr")
        launcher.masterPort = number("master_port")
        launcher.role = text("ms_role")
        let path = text("cgroup_path")
        let cgroup = path.flatMap { try? CgroupWorkload(path: $0) } ?? CgroupWorkload()
        if cgroup.slurmJob == nil { launcher.slurmJob = number("slurm_job") }
        self.init(cgroupPath: path, cgroup: cgroup, launcher: launcher)
    }
}

/// A value of an identity field.
public enum IdentityFieldValue: Equatable, Sendable {
    case number(UInt64)
    case string(String)
}
