// The trace-reader fuzz target: bytes → FuzzTarget.traceReader (Tests/Fuzz/Harness).
// Built with -sanitize=fuzzer -DFUZZING (scripts/fuzz), this is a libFuzzer
// binary taking libFuzzer's options; built normally, it replays inputs:
//     fuzz-trace-reader [-v] FILE|DIRECTORY...
import FuzzHarness

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTarget.traceReader.fuzzOne(data, size)
    return 0
}

// SwiftPM links this file's top-level code as `main`, not libFuzzer's: start its driver.
FuzzTarget.traceReader.runLibFuzzer { data, size in fuzz(data ?? UnsafePointer(bitPattern: 1)!, size) }
#else
FuzzTarget.traceReader.replayCommandLine()
#endif
