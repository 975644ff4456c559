// Pipeline throughput: synthetic kernel records, decoded, run through the
// graph and the shipped rules, encoded as JSONL, on one core.
//
// usage: ark-probe-pipeline-bench [EVENTS]   (prints one JSON line)
import Agent
import CArkProbeRecords
import ProbeEvents
import RuleEngine
import RuleLanguage
#if canImport(Glibc)
import Glibc
#endif

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000

/// A mix like a busy node's: 64 processes, 256 connections, mostly fast
/// retransmits, some RTOs, congestion changes and drops; 1 µs apart.
func makeRecords(_ count: Int) -> [ark_record] {
    var records: [ark_record] = []
    records.reserveCapacity(count)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for index in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        var record = ark_record()
        let kind = state >> 60
        record.kind = kind < 12 ? 1 : kind < 14 ? 3 : 4
        record.ktime_ns = 1_000_000_000 + UInt64(index) * 1_000
        let connection = UInt64((state >> 20) % 256)
        record.socket_cookie = connection + 1
        record.netns = 4026531840
        record.owner.tgid = UInt32(1000 + connection % 64)
        record.owner.tid = record.owner.tgid
        record.owner.source = 1
        withUnsafeMutableBytes(of: &record.owner.comm) { $0.copyBytes(from: Array("trainer".utf8)) }
        withUnsafeMutableBytes(of: &record.flow.saddr) { $0.copyBytes(from: [0,0,0,0,0,0,0,0,0,0,0xff,0xff,10,0,0,1]) }
        withUnsafeMutableBytes(of: &record.flow.daddr) {
            $0.copyBytes(from: [0,0,0,0,0,0,0,0,0,0,0xff,0xff,10,0,UInt8(connection % 8),2])
        }
        record.flow.sport = UInt16(40000 + connection)
        record.flow.dport = 29500
        record.flow.family = 2
        record.flow.tcp_state = 1
        record.segments = UInt32(1 + (state >> 8) % 4)
        record.cause = (state >> 4) % 16 == 0 ? 1 : 2
        record.ca_state = record.cause == 1 ? 4 : 3
        record.drop_reason = 12
        records.append(record)
    }
    return records
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let records = makeRecords(count)
var options = Pipeline.Options()
options.rules = try RuleEngine.load(files: shippedRules())
let pipeline = Pipeline(options: options, clock: WallClock(offsetNanoseconds: 1_700_000_000_000_000_000),
                        dropReasonNames: [12: "NETFILTER_DROP"])
var bytes = 0
let start = now()
for index in records.indices {
    records.withUnsafeBufferPointer { buffer in
        if let event = ProbeEvent(record: buffer.baseAddress! + index) { pipeline.process(event) }
    }
    if pipeline.output.count >= 1 << 20 {
        bytes += pipeline.output.count
        pipeline.output.removeAll()
    }
}
bytes += pipeline.output.count
let seconds = now() - start
print("{\"events\":\(count),\"seconds\":\(seconds),\"events_per_second\":\(Int(Double(count) / seconds)),"
      + "\"ns_per_event\":\(Int(seconds * 1e9 / Double(count))),\"output_bytes\":\(bytes),"
      + "\"alerts\":\(pipeline.alertsWritten)}")

func shippedRules() -> [(path: String, bytes: [UInt8])] {
    let directory = "rules"
    guard let stream = opendir(directory) else { return [] }
    defer { closedir(stream) }
    var files: [(path: String, bytes: [UInt8])] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.hasSuffix(".yaml"), let file = fopen(directory + "/" + name, "r") else { continue }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        fclose(file)
        files.append((directory + "/" + name, bytes))
    }
    return files
}
