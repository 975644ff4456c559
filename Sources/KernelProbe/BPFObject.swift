import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// An opened (and later loaded) eBPF object: one `struct bpf_object`.
final class BPFObject {
    let handle: OpaquePointer
    /// libbpf keeps pointers into the ELF image: it must outlive the object.
    private let image: [UInt8]

    init(image: [UInt8], name: String) throws(ProbeError) {
        self.image = image
        var options = bpf_object_open_opts()
        options.sz = MemoryLayout<bpf_object_open_opts>.size
        let opened = name.withCString { objectName in
            options.object_name = objectName
            return image.withUnsafeBytes { bytes in
                bpf_object__open_mem(bytes.baseAddress, bytes.count, &options)
            }
        }
        guard let opened else {
            throw .loadFailed(detail: "cannot open the embedded object", errno: errno, log: LibBPFLog.take())
        }
        handle = opened
    }

    deinit { bpf_object__close(handle) }

    func program(named name: String) throws(ProbeError) -> BPFProgram {
        guard let program = bpf_object__find_program_by_name(handle, name) else {
            throw .loadFailed(detail: "the embedded object has no program \(name)", errno: ENOENT, log: "")
        }
        return BPFProgram(handle: program, name: name)
    }

    func map(named name: String) throws(ProbeError) -> BPFMap {
        guard let map = bpf_object__find_map_by_name(handle, name) else {
            throw .loadFailed(detail: "the embedded object has no map \(name)", errno: ENOENT, log: "")
        }
        return BPFMap(handle: map, name: name)
    }

    /// Every map the object has made (after load).
    var maps: [BPFMap] {
        var maps: [BPFMap] = []
        var map = bpf_object__next_map(handle, nil)
        while let current = map {
            if bpf_map__fd(current) >= 0 {
                maps.append(BPFMap(handle: current, name: String(cString: bpf_map__name(current))))
            }
            map = bpf_object__next_map(handle, current)
        }
        return maps
    }

    /// Sets a `const volatile` global of the programs (their .rodata)
    /// before load, found by name in the object's BTF.
    func setReadOnlyGlobal<Value>(named name: String, to value: Value) throws(ProbeError) {
        guard let rodata = bpf_object__find_map_by_name(handle, ".rodata"),
              let btf = bpf_object__btf(handle) else {
            throw .loadFailed(detail: "the embedded object has no .rodata for \(name)", errno: ENOENT, log: "")
        }
        let section = btf__find_by_name_kind(btf, ".rodata", 15 /* BTF_KIND_DATASEC: the linux/btf.h enum and libbpf's macro clash in Swift */)
        var size = 0
        guard section > 0, let type = btf__type_by_id(btf, UInt32(section)),
              let data = bpf_map__initial_value(rodata, &size) else {
            throw .loadFailed(detail: "the embedded object's .rodata has no BTF", errno: ENOENT, log: "")
        }
        let variables = UnsafeRawPointer(type).advanced(by: MemoryLayout<btf_type>.size)
            .assumingMemoryBound(to: btf_var_secinfo.self)
        for index in 0..<Int(btf_vlen(type)) {
            let variable = variables[index]
            guard let variableType = btf__type_by_id(btf, variable.type),
                  let variableName = btf__name_by_offset(btf, variableType.pointee.name_off),
                  String(cString: variableName) == name else { continue }
            guard Int(variable.size) == MemoryLayout<Value>.size,
                  Int(variable.offset) + MemoryLayout<Value>.size <= size else {
                throw .loadFailed(detail: "\(name) in the embedded object has \(variable.size) bytes, "
                                  + "not \(MemoryLayout<Value>.size)", errno: EINVAL, log: "")
            }
            // The initial image libbpf copies into the map at load.
            UnsafeMutableRawPointer(mutating: data).advanced(by: Int(variable.offset))
                .storeBytes(of: value, as: Value.self)
            return
        }
        throw .loadFailed(detail: "the embedded object has no global \(name)", errno: ENOENT, log: "")
    }

    /// Turns off loading of every program not named.
    func loadOnly(_ names: Set<String>) {
        var program = bpf_object__next_program(handle, nil)
        while let current = program {
            let name = String(cString: bpf_program__name(current))
            bpf_program__set_autoload(current, names.contains(name))
            program = bpf_object__next_program(handle, current)
        }
    }

    func load() throws(ProbeError) {
        let result = bpf_object__load(handle)
        guard result == 0 else {
            let log = LibBPFLog.take()
            if result == -EPERM || result == -EACCES && log.isEmpty {
                throw .permissionDenied(operation: "loading the eBPF programs")
            }
            if result == -ENOMEM {
                // Maps and programs are charged to the agent's memory cgroup.
                throw .loadFailed(detail: "the kernel could not allocate the probe's maps or programs; under a "
                                      + "memory limit (cgroup memory.max, a unit's MemoryMax=) allow the agent "
                                      + "at least 24 MB (benchmarks/memory-limit measures what it needs)", errno: result, log: log)
            }
            throw .loadFailed(detail: "the kernel rejected a program", errno: result, log: log)
        }
    }
}

/// A program of a `BPFObject`; valid while the object lives.
struct BPFProgram {
    let handle: OpaquePointer
    let name: String

    func attach(to hook: Hook) throws(ProbeError) -> BPFLink {
        switch hook {
        case .tpBTF, .taskFileIterator:
            return try BPFLink(attaching: self) { bpf_program__attach($0) }
        case .tracepoint(let category, let tracepoint):
            return try BPFLink(attaching: self) { bpf_program__attach_tracepoint($0, category, tracepoint) }
        case .kprobe(let function):
            do throws(ProbeError) {
                return try BPFLink(attaching: self) { bpf_program__attach_kprobe($0, false, function) }
            } catch {
                guard case .system(_, let code) = error, code == ENOENT || code == EOPNOTSUPP else { throw error }
                throw .hookUnavailable(
                    hook: "kprobe on \(function)()",
                    reason: "\(errnoName(code)); the kernel has no kprobe support (CONFIG_KPROBES) or does not expose the function")
            }
        }
    }

    /// Runs an iterator program to its end, once.
    func runIterator() throws(ProbeError) {
        let link = try BPFLink(attaching: self) { bpf_program__attach_iter($0, nil) }
        let descriptor = bpf_iter_create(bpf_link__fd(link.handle))
        guard descriptor >= 0 else { throw .system(call: "bpf_iter_create(\(name))", errno: errno) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count == 0 { return }
            if count < 0 && errno != EINTR {
                throw .system(call: "read(iterator \(name))", errno: errno)
            }
        }
    }
}

/// A map of a `BPFObject`; valid while the object lives.
struct BPFMap {
    let handle: OpaquePointer
    let name: String

    var fileDescriptor: Int32 { bpf_map__fd(handle) }

    func setMaxEntries(_ count: UInt32) throws(ProbeError) {
        let result = bpf_map__set_max_entries(handle, count)
        if result != 0 { throw .system(call: "bpf_map__set_max_entries(\(name))", errno: result) }
    }
}

/// A descriptor of the loaded probe (a map, or a link that keeps a program
/// attached), handed over by the loading process; closed when released.
final class ProbeDescriptor {
    let value: Int32
    let name: String

    init(_ value: Int32, name: String) {
        self.value = value
        self.name = name
    }

    deinit { close(value) }

    /// Of a map: the sum over CPUs of the 64-bit value at `key` of a per-CPU array.
    func perCPUSum(key: UInt32, cpus: Int) throws(ProbeError) -> UInt64 {
        var values = [UInt64](repeating: 0, count: cpus)
        var key = key
        let result = values.withUnsafeMutableBytes { bytes in
            bpf_map_lookup_elem(value, &key, bytes.baseAddress)
        }
        if result != 0 { throw .system(call: "bpf_map_lookup_elem(\(name))", errno: errno) }
        return values.reduce(0, &+)
    }
}

/// An attachment of a program to a hook; detached when released.
final class BPFLink {
    let handle: OpaquePointer

    init(attaching program: BPFProgram, _ attach: (OpaquePointer) -> OpaquePointer?) throws(ProbeError) {
        guard let link = attach(program.handle) else {
            let code = errno
            _ = LibBPFLog.take()
            if code == EPERM || code == EACCES {
                throw .permissionDenied(operation: "attaching \(program.name)")
            }
            throw .system(call: "attaching \(program.name)", errno: code)
        }
        handle = link
    }

    deinit { bpf_link__destroy(handle) }
}
