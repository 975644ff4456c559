// The probe is loaded by a short-lived child process that hands its links
// and maps over (Sources/KernelProbe/LoadingProcess.swift). In the real
// kernel: the agent's process ends up holding every map of the probe and a
// link per attached program, the child is gone, and releasing the probe
// closes them all (which detaches the programs).

import CLibBPF
import Foundation
import KernelProbe
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ProbeLoadingTests: XCTestCase {
    func testTheAgentHoldsTheProbesMapsAndLinksAndNoLoaderIsLeft() throws {
        let before = bpfDescriptors()
        var probe: Probe?
        do {
            probe = try Probe()
        } catch {
            let message = "cannot load the probe: \(error)"
            if ProcessInfo.processInfo.environment["ARK_PROBE_REQUIRE_KERNEL_TESTS"] == "1" { throw LabError(message) }
            throw XCTSkip(message + " (set ARK_PROBE_REQUIRE_KERNEL_TESTS=1 to make this a failure)")
        }
        let loaded = bpfDescriptors()
        let maps = Set(loaded.maps).subtracting(before.maps)
        for name in ["ark_records", "ring_reader", "ring_reservati", "drops_counted_o", "socket_owners",
                     "socket_owner_pr", "listener_owner"] {
            XCTAssertTrue(maps.contains { $0.hasPrefix(name) }, "no map \(name) among \(maps.sorted())")
        }
        // One link per attached program (the existing-sockets walk ran in the child).
        let hooks = probe!.report.attachedHooks.filter { !$0.contains("iter/") }
        XCTAssertEqual(loaded.links - before.links, hooks.count, "\(hooks)")
        // The loading process was waited for: no fork of this process is left, not even a zombie.
        XCTAssertEqual(forksOfThisProcess(), [])

        probe = nil
        let released = bpfDescriptors()
        XCTAssertEqual(released.links, before.links)
        XCTAssertEqual(Set(released.maps), Set(before.maps))
    }

    /// Children of this process running its own executable (the loading
    /// process is a fork); other tests' children run other programs.
    private func forksOfThisProcess() -> [Int32] {
        let ownExecutable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return threads.flatMap { thread -> [Int32] in
            let children = (try? String(contentsOfFile: "/proc/self/task/\(thread)/children", encoding: .utf8)) ?? ""
            return children.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }.filter {
            // A zombie's exe cannot be read: counted, as it was not waited for.
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")).map { $0 == ownExecutable } ?? true
        }
    }

    /// The names of the BPF maps this process has descriptors of, and how
    /// many links it holds (from /proc/self/fd and fdinfo).
    private func bpfDescriptors() -> (maps: [String], links: Int) {
        var maps: [String] = []
        var links = 0
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fdinfo")) ?? []
        for descriptor in descriptors.compactMap(Int32.init) {
            guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(descriptor)", encoding: .utf8) else {
                continue
            }
            // A BPF link, or a perf event a program is attached through (classic tracepoints and kprobes before 5.15).
            let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")
            if info.contains("link_type:") || target == "anon_inode:[perf_event]" { links += 1 }
            guard info.contains("map_id:") else { continue }
            var map = bpf_map_info()
            var length = UInt32(MemoryLayout<bpf_map_info>.size)
            guard bpf_obj_get_info_by_fd(descriptor, &map, &length) == 0 else { continue }
            maps.append(withUnsafeBytes(of: map.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return (maps, links)
    }
}
