import Agent
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class CodeResidencyTests: XCTestCase {
    func testReleasingStartupMemoryLeavesTheProcessRunning() {
        let released = CodeResidency.releaseStartupMemory()
        // This test binary and libc are executable file mappings.
        XCTAssertGreaterThan(released, 1 << 20)
        // Code faults back in on use: the process goes on.
        let squares = (1...1000).map { $0 * $0 }.reduce(0, +)
        XCTAssertEqual(squares, 333_833_500)
        XCTAssertGreaterThan(CodeResidency.releaseStartupMemory(), 0)
    }

    /// A released read-only mapping reads the file again.
    func testReleasedReadOnlyMappingsReadTheFileAgain() throws {
        var template = Array("/tmp/ark-code-residency-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor); unlink(template) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let page = (0..<pageSize).map { UInt8(truncatingIfNeeded: $0 * 7) }
        XCTAssertEqual(write(descriptor, page, pageSize), pageSize)
        let mapped = mmap(nil, pageSize, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else { throw XCTSkip("cannot map a file: errno \(errno)") }
        defer { munmap(mapped, pageSize) }
        XCTAssertEqual(mapped.load(fromByteOffset: 100, as: UInt8.self), 188)

        XCTAssertGreaterThanOrEqual(CodeResidency.releaseStartupMemory(), pageSize)

        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: mapped, count: pageSize)), page)
    }

    /// A private change to code (what a text relocation or a breakpoint
    /// makes) would be undone by dropping the page: such mappings are kept.
    func testMappingsWithPrivateCopiesOfPagesAreKept() throws {
        var template = Array("/tmp/ark-code-residency-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor); unlink(template) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let page = [UInt8](repeating: 0xC3, count: pageSize)
        XCTAssertEqual(write(descriptor, page, pageSize), pageSize)
        let mapped = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else { throw XCTSkip("cannot map a file: errno \(errno)") }
        defer { munmap(mapped, pageSize) }
        mapped.storeBytes(of: 0x90, as: UInt8.self)
        guard mprotect(mapped, pageSize, PROT_READ | PROT_EXEC) == 0 else {
            throw XCTSkip("cannot make a file mapping executable (noexec /tmp?): errno \(errno)")
        }

        CodeResidency.releaseStartupMemory()

        XCTAssertEqual(mapped.load(as: UInt8.self), 0x90, "the private change was dropped")
        XCTAssertEqual(mapped.load(fromByteOffset: 1, as: UInt8.self), 0xC3)
    }
}
