/// Reads the agent's probe.started line. Only `clock_offset_ns` is needed
/// beyond the contract's keys (it turns event times back into `ts`); the
/// descriptive keys default to empty when absent.
enum StartLineDecoder {
    static let eventType = "probe.started"

    static func decode(_ line: LineObject) throws(LineError) -> StartInfo {
        let ts: UInt64 = try line.require("ts", "a number").integer()
        _ = try line.require("entity_id", "a string").string()
        let _: UInt32 = try line.require("pid", "a number").integer()
        return StartInfo(
            wallMilliseconds: ts,
            host: try line["host"]?.string() ?? "",
            kernel: try line["kernel"]?.string() ?? "",
            attachMode: try line.require("value", "a string").string(),
            clockOffsetNanoseconds: try line.require("clock_offset_ns", "a number").integer(),
            attribution: try line["attribution"]?.string() ?? "",
            hooks: hooks(try line["hooks"]?.string() ?? ""),
            reportsFailedRetransmits: try line["reports_failed_retransmits"]?.bool() ?? false)
    }

    /// The agent joins its hooks with "; ".
    private static func hooks(_ text: String) -> [String] {
        text.isEmpty ? [] : text.split(separator: "; ", omittingEmptySubsequences: false).map(String.init)
    }
}
