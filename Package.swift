// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way:
// CLibBPF / CArkProbeRecords -> KernelProbe -> ProbeEvents -> ... -> ark-probe.
// No Foundation below the CLI: the agent's budget is 8 MB resident.
let package = Package(
    name: "ArkProbe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ark-probe", targets: ["ark-probe"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev"])]
        ),
        // Linux headers Glibc's module leaves out (epoll, signalfd).
        .systemLibrary(name: "CLinux"),
        // The record layout shared with the eBPF programs: bpf/ark_probe.h.
        .systemLibrary(name: "CArkProbeRecords", path: "bpf"),
        // Builds bpf/*.bpf.c into one object and embeds it (see the plugin).
        .executableTarget(
            name: "bpf-embed",
            dependencies: ["CLibBPF"],
            path: "Sources/BPFEmbed"
        ),
        .plugin(
            name: "BPFObjectPlugin",
            capability: .buildTool(),
            dependencies: ["bpf-embed"]
        ),
        .target(
            name: "KernelProbe",
            dependencies: ["CLibBPF", "CLinux", "CArkProbeRecords"],
            plugins: ["BPFObjectPlugin"]
        ),
        .target(
            name: "ProbeEvents",
            dependencies: ["KernelProbe", "CArkProbeRecords"]
        ),
        // Which job and rank a process is: its cgroup and its launcher's environment.
        .target(name: "WorkloadIdentity", dependencies: ["ProbeEvents"]),
        .testTarget(name: "WorkloadIdentityTests", dependencies: ["WorkloadIdentity", "ProbeEvents"]),
        .target(name: "TraceFormat", dependencies: ["ProbeEvents", "WorkloadIdentity"]),
        .target(name: "StateGraph", dependencies: ["ProbeEvents", "WorkloadIdentity"]),
        .target(name: "RuleEngine", dependencies: ["RuleLanguage", "StateGraph", "ProbeEvents", "WorkloadIdentity"]),
        // Prometheus text format and the /metrics HTTP server (no Foundation).
        .target(name: "Metrics", dependencies: ["CLinux"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .target(
            name: "Agent",
            dependencies: ["KernelProbe", "ProbeEvents", "WorkloadIdentity", "StateGraph", "RuleEngine", "RuleLanguage",
                           "TraceFormat", "CArkProbeRecords", "CLinux", "Metrics"]
        ),
        // Pushes alerts to Alertmanager's v2 API from threads of its own.
        .target(name: "Alertmanager", dependencies: ["RuleEngine", "RuleLanguage", "ProbeEvents", "WorkloadIdentity"]),
        .testTarget(name: "AlertmanagerTests", dependencies: ["Alertmanager", "RuleEngine", "RuleLanguage", "ProbeEvents", "WorkloadIdentity"]),
        // Embeds rules/*.yaml in the command as its default rules.
        .executableTarget(name: "rules-embed", path: "Sources/RulesEmbed"),
        .plugin(name: "ShippedRulesPlugin", capability: .buildTool(), dependencies: ["rules-embed"]),
        .executableTarget(
            name: "ark-probe",
            dependencies: ["Agent", "Alertmanager", "KernelProbe", "Metrics", "ProbeEvents", "RuleEngine", "RuleLanguage", "RuleTesting"],
            path: "Sources/ArkProbeCLI",
            plugins: ["ShippedRulesPlugin"]
        ),
        // Benchmarks (benchmarks/run): not shipped.
        .executableTarget(
            name: "ark-probe-pipeline-bench",
            dependencies: ["Agent", "ProbeEvents", "RuleEngine", "RuleLanguage", "WorkloadIdentity", "CArkProbeRecords"],
            path: "benchmarks/PipelineBenchmark"
        ),
        // Drives the live agent from a bench-only eBPF event source
        // (live_source.bpf.c, embedded by BPFObjectPlugin) and reads its output.
        .executableTarget(
            name: "ark-probe-live-bench",
            dependencies: ["KernelProbe", "CLibBPF"],
            path: "benchmarks/LiveBenchmark",
            exclude: ["live_source.bpf.c"],
            plugins: ["BPFObjectPlugin"]
        ),
        .executableTarget(
            name: "ark-probe-metrics-bench",
            dependencies: ["Agent", "Metrics", "ProbeEvents", "StateGraph"],
            path: "benchmarks/MetricsBenchmark"
        ),
        // Test-only traffic generator for the namespace lab (not shipped).
        .executableTarget(name: "ark-lab-traffic", path: "Tests/LabTraffic"),
        .testTarget(name: "KernelProbeTests", dependencies: ["KernelProbe"]),
        .testTarget(name: "ProbeEventsTests", dependencies: ["ProbeEvents", "CArkProbeRecords"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Metrics", "ProbeEvents", "RuleEngine", "RuleLanguage", "StateGraph", "WorkloadIdentity"]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "RuleLanguage", dependencies: ["CYAML"]),
        .testTarget(name: "RuleLanguageTests", dependencies: ["RuleLanguage"]),
        .testTarget(name: "TraceFormatTests", dependencies: ["TraceFormat", "ProbeEvents", "WorkloadIdentity"]),
        .testTarget(name: "RuleEngineTests", dependencies: ["RuleEngine", "RuleLanguage", "StateGraph", "ProbeEvents", "WorkloadIdentity"]),
        .testTarget(name: "StateGraphTests", dependencies: ["StateGraph", "ProbeEvents", "WorkloadIdentity"]),
        .target(name: "RuleTesting", dependencies: ["Agent", "RuleEngine", "RuleLanguage", "TraceFormat", "ProbeEvents", "StateGraph"]),
        .testTarget(name: "RuleTestingTests", dependencies: ["RuleTesting"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["ark-probe", "ark-lab-traffic", "KernelProbe", "CArkProbeRecords"]
        ),
        // Fuzzing the parsers (Tests/Fuzz/README.md): one harness, three libFuzzer
        // executables (scripts/fuzz builds them with -DFUZZING), and the corpus replayed as a test.
        .target(
            name: "FuzzHarness",
            dependencies: ["RuleEngine", "RuleLanguage", "StateGraph", "ProbeEvents", "TraceFormat"],
            path: "Tests/Fuzz/Harness"
        ),
        .executableTarget(name: "fuzz-rule-loader", dependencies: ["FuzzHarness"], path: "Tests/Fuzz/fuzz-rule-loader"),
        .executableTarget(name: "fuzz-expression", dependencies: ["FuzzHarness"], path: "Tests/Fuzz/fuzz-expression"),
        .executableTarget(name: "fuzz-trace-reader", dependencies: ["FuzzHarness"], path: "Tests/Fuzz/fuzz-trace-reader"),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzHarness"]),
    ]
)

// Resident memory (README "Memory"). The code the agent's loop runs is placed
// together, at the end of .text, in the order of scripts/hot-symbols.txt
// (scripts/hot-symbols regenerates it; gold, the toolchain's linker here,
// ignores entries that no longer exist): that needs one section per function
// in the modules the loop runs. The binary's symbols are bound at start-up
// (-z now), so its calls never make the loop search the libraries' symbol
// tables.
let agentLoopModules: Set = ["KernelProbe", "ProbeEvents", "WorkloadIdentity", "StateGraph", "RuleEngine", "RuleLanguage",
                              "Metrics", "Alertmanager", "Agent", "ark-probe"]
for target in package.targets where agentLoopModules.contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-Xfrontend", "-function-sections"], .when(platforms: [.linux]))]
}
for target in package.targets where target.name == "ark-probe" {
    target.linkerSettings = (target.linkerSettings ?? []) + [
        .unsafeFlags(["-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/scripts/hot-symbols.txt",
                      "-Xlinker", "-z", "-Xlinker", "now"],
                     .when(platforms: [.linux])),
    ]
}
