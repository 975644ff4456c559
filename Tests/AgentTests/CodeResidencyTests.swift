import Agent
import XCTest

final class CodeResidencyTests: XCTestCase {
    func testReleasingStartupCodeLeavesTheProcessRunning() {
        let released = CodeResidency.releaseStartupCode()
        // This test binary and libc are executable file mappings.
        XCTAssertGreaterThan(released, 1 << 20)
        // Code faults back in on use: the process goes on.
        let squares = (1...1000).map { $0 * $0 }.reduce(0, +)
        XCTAssertEqual(squares, 333_833_500)
        XCTAssertGreaterThan(CodeResidency.releaseStartupCode(), 0)
    }
}
