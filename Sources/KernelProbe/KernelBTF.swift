import CLibBPF
#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's BTF: what the probe asks of it at start-up.
final class KernelBTF {
    static let path = "/sys/kernel/btf/vmlinux"
    private let handle: OpaquePointer

    init() throws(ProbeError) {
        guard access(KernelBTF.path, R_OK) == 0 else {
            if errno == EACCES { throw .permissionDenied(operation: "reading \(KernelBTF.path)") }
            throw .btfUnavailable(path: KernelBTF.path)
        }
        guard let btf = btf__load_vmlinux_btf() else {
            throw .btfUnavailable(path: KernelBTF.path)
        }
        handle = btf
    }

    deinit { btf__free(handle) }

    /// The number of arguments of a tracepoint as tp_btf sees it, or nil
    /// when the kernel has no BTF-typed tracepoint of that name.
    func tracepointArgumentCount(_ name: String) -> Int? {
        let typeID = btf__find_by_name_kind(handle, "btf_trace_" + name, UInt32(BTF_KIND_TYPEDEF))
        guard typeID > 0,
              let pointer = resolved(btf__type_by_id(handle, UInt32(typeID))),
              btf_is_ptr(pointer),
              let prototype = resolved(pointer),
              btf_is_func_proto(prototype)
        else { return nil }
        // The first parameter is the tracepoint's private data pointer.
        return Int(btf_vlen(prototype)) - 1
    }

    func hasFunction(_ name: String) -> Bool {
        btf__find_by_name_kind(handle, name, 12 /* BTF_KIND_FUNC: the linux/btf.h enum and libbpf's macro clash in Swift */) > 0
    }

    func hasStruct(_ name: String) -> Bool {
        btf__find_by_name_kind(handle, name, UInt32(BTF_KIND_STRUCT)) > 0
    }

    /// Names of an enum's values, by value (e.g. skb_drop_reason).
    func enumNames(_ enumName: String, droppingPrefix prefix: String) -> [UInt32: String] {
        let typeID = btf__find_by_name_kind(handle, enumName, UInt32(BTF_KIND_ENUM))
        guard typeID > 0, let type = btf__type_by_id(handle, UInt32(typeID)) else { return [:] }
        var names: [UInt32: String] = [:]
        let count = Int(btf_vlen(type))
        let members = UnsafeRawPointer(type).advanced(by: MemoryLayout<btf_type>.size)
            .assumingMemoryBound(to: btf_enum.self)
        for index in 0..<count {
            let member = members[index]
            guard let cName = btf__name_by_offset(handle, member.name_off) else { continue }
            var name = String(cString: cName)
            if name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
            names[UInt32(bitPattern: member.val)] = name
        }
        return names
    }

    /// Follows a typedef/pointer's `type` field to the type it names.
    private func resolved(_ type: UnsafePointer<btf_type>?) -> UnsafePointer<btf_type>? {
        guard let type else { return nil }
        return btf__type_by_id(handle, type.pointee.type)
    }
}

/// The running kernel's drop reason names, for tools that do not load the
/// probe (replay); empty when the kernel has no readable BTF.
public enum KernelDropReasons {
    public static func names() -> [UInt32: String] {
        guard let btf = try? KernelBTF() else { return [:] }
        return btf.enumNames("skb_drop_reason", droppingPrefix: "SKB_DROP_REASON_")
    }
}
