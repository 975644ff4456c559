/// What a process's cgroup v2 path says about the workload it belongs to:
/// the container and its runtime, the Kubernetes pod and QoS class, the
/// Slurm job and step, and the systemd unit. Both cgroup drivers are read:
/// systemd slices (`kubepods.slice/kubepods-burstable.slice/
/// kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`) and
/// cgroupfs directories (`kubepods/burstable/pod<uid>/<id>`).
public struct CgroupWorkload: Equatable, Sendable {
    public enum Runtime: String, Sendable {
        case containerd, crio = "cri-o", docker, podman
    }

    /// The pod's QoS class, from the level of the kubepods tree it is in.
    public enum QoSClass: String, Sendable {
        case guaranteed, burstable, bestEffort = "besteffort"
    }

    /// The container id (64 lowercase hex digits), when the path has one.
    public var containerID: String?
    /// The runtime that named the container's cgroup; nil when the layout
    /// does not say (cgroupfs under a pod).
    public var runtime: Runtime?
    /// The pod UID, with dashes (the systemd driver writes underscores).
    public var podUID: String?
    public var qosClass: QoSClass?
    /// Slurm: `job_<id>` and `step_<n>` (`batch`, `extern` and
    /// `interactive` are steps too).
    public var slurmJob: UInt64?
    public var slurmStep: String?
    /// The innermost systemd unit (`*.service` or `*.scope`).
    public var systemdUnit: String?

    public init() {}

    /// Nothing known: a process in the root cgroup or in a plain slice.
    public var isEmpty: Bool { self == CgroupWorkload() }
}

/// A cgroup path that cannot be one, with the byte offset of the problem.
public struct CgroupPathError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case notAbsolute, tooLong, emptyComponent, controlCharacter
    }
    public let problem: Problem
    public let offset: Int

    public var description: String {
        switch problem {
        case .notAbsolute: "a cgroup path starts with '/'"
        case .tooLong: "longer than \(CgroupWorkload.maximumPathLength) bytes (PATH_MAX), at byte \(offset)"
        case .emptyComponent: "an empty component ('//') at byte \(offset)"
        case .controlCharacter: "a control character at byte \(offset)"
        }
    }
}

extension CgroupWorkload {
    /// PATH_MAX: the kernel writes no longer path to /proc/PID/cgroup.
    public static let maximumPathLength = 4096

    /// Reads a cgroup v2 path as in `/proc/PID/cgroup` (`0::/…`, without
    /// the `0::`). Components it does not recognise are skipped: a layout
    /// nobody documented yields what is known, never an error.
    public init(path: String) throws(CgroupPathError) {
        self.init()
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else { throw CgroupPathError(problem: .notAbsolute, offset: 0) }
        guard bytes.count <= Self.maximumPathLength else {
            throw CgroupPathError(problem: .tooLong, offset: Self.maximumPathLength)
        }
        if let control = bytes.firstIndex(where: { $0 < 0x20 || $0 == 0x7f }) {
            throw CgroupPathError(problem: .controlCharacter, offset: control)
        }
        var inKubepods = false
        var previous = ""
        var offset = 1
        // "/" alone is the root cgroup: no components.
        let components = bytes.count == 1 ? [] : bytes[1...].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for component in components {
            guard !component.isEmpty else {
                // A trailing slash is harmless; "//" inside is not a path the kernel writes.
                if offset == bytes.count { break }
                throw CgroupPathError(problem: .emptyComponent, offset: offset)
            }
            let name = String(decoding: component, as: UTF8.self)
            offset += component.count + 1
            defer { previous = name }
            // kind and some distributions nest it: kubelet-kubepods.slice.
            if name == "kubepods" || name.hasSuffix("kubepods.slice") {
                inKubepods = true
                qosClass = .guaranteed
                continue
            }
            if inKubepods && readKubernetes(name) { continue }
            if readContainer(name) { continue }
            // Docker with the cgroupfs driver: /docker/<id>.
            if previous == "docker", Self.isContainerID(name) {
                containerID = name
                runtime = .docker
                continue
            }
            if readSlurm(name) { continue }
            if name.hasSuffix(".service") || name.hasSuffix(".scope") { systemdUnit = name }
        }
    }

    /// kubepods levels: QoS, pod, and (cgroupfs) a bare container id.
    private mutating func readKubernetes(_ name: String) -> Bool {
        if name == "burstable" || name.hasSuffix("kubepods-burstable.slice") {
            qosClass = .burstable
            return true
        }
        if name == "besteffort" || name.hasSuffix("kubepods-besteffort.slice") {
            qosClass = .bestEffort
            return true
        }
        if let uid = Self.podUID(in: name) {
            podUID = uid
            return true
        }
        if podUID != nil, Self.isContainerID(name) {
            containerID = name
            return true
        }
        return false
    }

    /// `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_with_underscores>.slice` (systemd).
    private static func podUID(in name: String) -> String? {
        let bytes = Array(name.utf8)
        let uid: ArraySlice<UInt8>
        if name.hasSuffix(".slice") {
            let stem = bytes.dropLast(".slice".utf8.count)
            let marker = Array("-pod".utf8)
            guard let start = stem.indices.reversed().first(where: { stem[$0...].starts(with: marker) }) else { return nil }
            uid = stem[(start + marker.count)...]
        } else {
            guard name.hasPrefix("pod") else { return nil }
            uid = bytes[3...]
        }
        // The systemd driver writes the UID's dashes as underscores.
        let text = String(decoding: uid.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
        return isUUID(text) ? text.lowercased() : nil
    }

    /// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`,
    /// `libpod-<id>.scope` (systemd driver), or `docker/<id>` (cgroupfs).
    private mutating func readContainer(_ name: String) -> Bool {
        let scopes: [(prefix: String, runtime: Runtime)] = [
            ("cri-containerd-", .containerd), ("crio-", .crio), ("docker-", .docker), ("libpod-", .podman),
        ]
        for scope in scopes where name.hasPrefix(scope.prefix) && name.hasSuffix(".scope") {
            let id = String(name.dropFirst(scope.prefix.count).dropLast(".scope".count))
            // crio-conmon-<id>.scope is CRI-O's monitor, not the container.
            guard Self.isContainerID(id) else { return false }
            containerID = id
            runtime = scope.runtime
            systemdUnit = name
            return true
        }
        return false
    }

    /// `job_<id>` and `step_<n|batch|extern|interactive>` (Slurm's cgroup/v2 plugin).
    private mutating func readSlurm(_ name: String) -> Bool {
        if name.hasPrefix("job_"), let job = UInt64(name.dropFirst(4)) {
            slurmJob = job
            return true
        }
        if slurmJob != nil, name.hasPrefix("step_") {
            let step = String(name.dropFirst(5))
            guard !step.isEmpty, step.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return false }
            slurmStep = step
            return true
        }
        return false
    }

    static func isContainerID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) } }
    }
}
