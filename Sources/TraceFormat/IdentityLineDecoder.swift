import ProbeEvents
import WorkloadIdentity

/// Reads back a process.identity line: the pid, comm and time, and the
/// identity from its fields (WorkloadIdentity.fieldNames), each a string
/// or a whole number as the agent writes it.
enum IdentityLineDecoder {
    static let eventType = EventType.processIdentity.description

    static func decode(_ line: LineObject) throws(LineError) -> ProcessIdentity {
        let pidField = try line.require("pid", "a number")
        let pid: UInt32 = try pidField.integer()
        guard pid != 0 else { throw pidField.failure("must be a process id, not 0") }
        _ = try line.require("value", "a string").string()
        let time: UInt64 = try line.require("ktime_ns", "a number").integer()
        let cgroupID: UInt64 = try line["cgroup_id"]?.integer() ?? 0
        let command = try line["comm"]?.command() ?? Command()
        var values: [String: IdentityFieldValue] = [:]
        for name in WorkloadIdentity.fieldNames {
            guard let field = line[name] else { continue }
            switch name {
            case "rank", "local_rank", "world_size", "group_rank": values[name] = .number(UInt64(try field.integer() as UInt32))
            case "master_port": values[name] = .number(UInt64(try field.integer() as UInt16))
            case "slurm_job": values[name] = .number(try field.integer())
            default: values[name] = .string(try field.string())
            }
        }
        if let path = line["cgroup_path"] {
            do { _ = try CgroupWorkload(path: try path.string()) } catch {
                throw path.failure("is not a cgroup path: \(error)")
            }
        }
        return ProcessIdentity(pid: pid, command: command, cgroupID: cgroupID, time: time, identity: WorkloadIdentity { values[$0] })
    }
}
