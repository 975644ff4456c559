import XCTest
@testable import KernelProbe

final class VerifierLogTests: XCTestCase {
    /// libbpf 1.1's words when 6.18.44 refused the socket-storage iterator.
    let refusal = """
        libbpf: prog 'claim_existing_sockets': BPF program load failed: Permission denied
        libbpf: prog 'claim_existing_sockets': -- BEGIN PROG LOAD LOG --
        0: R1=ctx() R10=fp0
        ; int claim_existing_sockets(struct bpf_iter__task_file *ctx) @ owners.bpf.c:99
        7: (79) r7 = *(u64 *)(r0 +24)         ; R0=ptr_socket() R7=untrusted_ptr_sock()
        14: (85) call bpf_sk_storage_get#107
        R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_
        processed 42 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 mark_read 1
        -- END PROG LOAD LOG --
        libbpf: prog 'claim_existing_sockets': failed to load: -13
        libbpf: failed to load object 'ark_probe'
        """

    func testNamesTheRefusedProgramAndKeepsTheVerifiersLastLines() {
        let log = VerifierLog(refusal)
        XCTAssertEqual(log.failedProgram, "claim_existing_sockets")
        XCTAssertEqual(log.finalLines.suffix(2), [
            "R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_",
            "processed 42 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 mark_read 1",
        ])
        XCTAssertEqual(log.finalLines.count, VerifierLog.shownLines)
    }

    func testACoreRelocationFailureNamesItsProgramWithLibbpfsWords() {
        let log = VerifierLog("""
            libbpf: prog 'cong_state_change': relo #3: no matching targets found
            libbpf: prog 'cong_state_change': failed to perform CO-RE relocations: -22
            libbpf: failed to load object 'ark_probe'
            """)
        XCTAssertEqual(log.failedProgram, "cong_state_change")
        XCTAssertEqual(log.finalLines, [
            "libbpf: prog 'cong_state_change': relo #3: no matching targets found",
            "libbpf: prog 'cong_state_change': failed to perform CO-RE relocations: -22",
        ])
    }

    func testALogNamingNoProgramNamesNone() {
        for text in ["", "libbpf: map 'ark_records': failed to create: Operation not permitted(-1)",
                     "libbpf: prog 'x: unterminated", "prog '' failed to load"] {
            XCTAssertNil(VerifierLog(text).failedProgram, text)
        }
    }

    /// A verifier log longer than any buffer: the end survives.
    func testAHugeLogKeepsItsEnd() {
        let body = (0..<100_000).map { "\($0): (b7) r1 = 0" }.joined(separator: "\n")
        let log = VerifierLog("libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n\(body)\nthe reason\n-- END PROG LOAD LOG --\nlibbpf: prog 'p': failed to load: -13")
        XCTAssertEqual(log.failedProgram, "p")
        XCTAssertEqual(log.finalLines.last, "the reason")
    }
}
