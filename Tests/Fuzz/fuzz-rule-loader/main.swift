// The rule-loader fuzz target: bytes → FuzzTarget.ruleLoader (Tests/Fuzz/Harness).
// Built with -sanitize=fuzzer -DFUZZING (scripts/fuzz), this is a libFuzzer
// binary taking libFuzzer's options; built normally, it replays inputs:
//     fuzz-rule-loader [-v] FILE|DIRECTORY...
import FuzzHarness

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTarget.ruleLoader.fuzzOne(data, size)
    return 0
}

// SwiftPM links this file's top-level code as `main`, not libFuzzer's: start its driver.
FuzzTarget.ruleLoader.runLibFuzzer { data, size in fuzz(data ?? UnsafePointer(bitPattern: 1)!, size) }
#else
FuzzTarget.ruleLoader.replayCommandLine()
#endif
