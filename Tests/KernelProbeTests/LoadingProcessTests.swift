import XCTest
@testable import KernelProbe
#if canImport(Glibc)
import Glibc
#endif

final class LoadingProcessTests: XCTestCase {
    private let handover = ProbeHandover(
        retransmitMode: .tracepoint,
        features: [
            FeatureStatus(feature: .retransmits, state: .fallback, program: "retransmit_tp",
                          hook: "tracepoint/tcp/tcp_retransmit_skb", reason: "tp_btf: refused by the kernel"),
            FeatureStatus(feature: .drops, state: .off, program: nil, hook: nil, reason: "switched off"),
            FeatureStatus(feature: .processExits, state: .on, program: "socket_owner_exit",
                          hook: "tp_btf/sched_process_exit", reason: nil),
        ],
        dropReasonNames: [2: "NOT_SPECIFIED", 5: "TCP_CSUM", 77: "ünïcode"],
        links: [], maps: [])

    private let mapNames = ["ark_records", "ring_reader", "socket_owners", ".rodata"]

    private static let errors: [ProbeError] = [
        .permissionDenied(operation: "loading the eBPF programs"),
        .missingCapabilities(["CAP_BPF", "CAP_PERFMON"]),
        .missingCapabilities([]),
        .hookUnavailable(hook: "kprobe on tcp_retransmit_skb()", reason: "no CONFIG_KPROBES"),
        .btfUnavailable(path: "/sys/kernel/btf/vmlinux"),
        .attachFailed(hook: "tcp:tcp_retransmit_skb", attempts: [
            AttachAttempt(mode: .tpBTF, reason: "refused"), AttachAttempt(mode: .kprobe, reason: ""),
        ]),
        .loadFailed(detail: "the kernel rejected a program", errno: -13, log: "line 1\nline 2"),
        .system(call: "bpf_map_lookup_elem(ring_reader)", errno: 2),
        .invalidConfiguration(""),
        .loadingProcessFailed("nested"),
    ]

    /// Pipes standing in for the probe's links and maps: what the child
    /// writes into one, the parent reads from the descriptor it received.
    func testDescriptorsAndTheReportCrossToTheParent() throws {
        let answer = try LoadingProcess.run {
            var descriptors: [Int32] = []
            for index in 0..<(3 + mapNames.count) {
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { _exit(2) }
                var byte = UInt8(index)
                guard write(ends[1], &byte, 1) == 1 else { _exit(3) }
                close(ends[1])
                descriptors.append(ends[0])
            }
            var sent = handover
            sent.links = Array(descriptors.prefix(3))
            sent.maps = zip(mapNames, descriptors.dropFirst(3)).map { .init(name: $0, descriptor: $1) }
            return ProbeHandover.encode(.success(sent))
        }
        let received = try ProbeHandover.decode(answer)
        XCTAssertEqual(received.retransmitMode, handover.retransmitMode)
        XCTAssertEqual(received.features, handover.features)
        XCTAssertEqual(received.dropReasonNames, handover.dropReasonNames)
        XCTAssertEqual(received.links.count, 3)
        XCTAssertEqual(received.maps.map(\.name), mapNames)
        for (index, descriptor) in (received.links + received.maps.map(\.descriptor)).enumerated() {
            var byte: UInt8 = 0xff
            XCTAssertEqual(read(descriptor, &byte, 1), 1)
            XCTAssertEqual(byte, UInt8(index))
            // Written and closed by the child: nothing more, the end.
            XCTAssertEqual(read(descriptor, &byte, 1), 0)
            XCTAssertEqual(fcntl(descriptor, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
            close(descriptor)
        }
    }

    func testEveryErrorOfTheChildIsThrownUnchangedInTheParent() throws {
        for error in Self.errors {
            let answer = try LoadingProcess.run { ProbeHandover.encode(.failure(error)) }
            XCTAssertThrowsError(try ProbeHandover.decode(answer)) {
                XCTAssertEqual($0 as? ProbeError, error)
            }
        }
    }

    func testAChildThatDiesSaysHow() {
        XCTAssertThrowsError(try LoadingProcess.run { raise(SIGKILL); return .init(descriptors: [], bytes: []) }) {
            XCTAssertEqual($0 as? ProbeError, .loadingProcessFailed(
                "the process that loads the probe ended without answering, and it was killed by signal 9 (Killed)"))
        }
        XCTAssertThrowsError(try LoadingProcess.run { _exit(7) }) {
            XCTAssertEqual($0 as? ProbeError, .loadingProcessFailed(
                "the process that loads the probe ended without answering, and it exited with status 7"))
            XCTAssertTrue("\($0)".hasPrefix("cannot load the probe: the process that loads the probe ended"))
            XCTAssertTrue("\($0)".contains("This is a bug in ark-probe"))
        }
    }

    /// Every truncation, and every single-byte change, of a valid answer
    /// decodes to a handover, an error, or "malformed": never a crash.
    /// Malformed answers close what they carried.
    func testBadAnswersAreRefusedAndTheirDescriptorsClosed() throws {
        var valid = handover
        valid.links = [0]
        valid.maps = mapNames.map { .init(name: $0, descriptor: 0) }
        let encodings = [ProbeHandover.encode(.success(valid)).bytes]
            + Self.errors.map { ProbeHandover.encode(.failure($0)).bytes }
        let malformed = ProbeError.loadingProcessFailed("the process that loads the probe answered with malformed data")
        for bytes in encodings {
            for length in 0..<bytes.count {
                let descriptor = open("/dev/null", O_RDONLY)
                XCTAssertThrowsError(try ProbeHandover.decode(.init(descriptors: [descriptor],
                                                                    bytes: Array(bytes.prefix(length))))) {
                    XCTAssertEqual($0 as? ProbeError, malformed, "\(length) of \(bytes.count) bytes")
                }
                XCTAssertEqual(fcntl(descriptor, F_GETFD), -1, "closed")
            }
            for index in bytes.indices {
                for value: UInt8 in [0, 1, 0x7f, 0xff] where value != bytes[index] {
                    var changed = bytes
                    changed[index] = value
                    _ = try? ProbeHandover.decode(.init(descriptors: [], bytes: changed))
                }
            }
        }
        // The right bytes with the wrong number of descriptors.
        XCTAssertThrowsError(try ProbeHandover.decode(.init(descriptors: [], bytes: encodings[0]))) {
            XCTAssertEqual($0 as? ProbeError, malformed)
        }
    }
}
