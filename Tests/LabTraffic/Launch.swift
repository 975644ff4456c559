// `launch`: a training launcher, as torchrun, srun or mpirun start ranks.
// It starts --ranks copies of `ark-lab-traffic train ...` (the arguments
// after `--`), each with the environment that launcher style sets (RANK,
// LOCAL_RANK, WORLD_SIZE, TORCHELASTIC_RUN_ID, MASTER_ADDR/PORT; or
// SLURM_JOB_ID, SLURM_PROCID...; or OMPI_COMM_WORLD_*), each rank in the
// cgroup --cgroup gives (`{rank}` is replaced by the rank there and in the
// rank's arguments), and runs a barrier after every
// step: a rank waits for all others, as a collective operation does, so
// one rank stalled by the network stalls the job. The ranks' lines go to
// stdout as they print them. Exits when every rank has.
//
//   launch --ranks N --style torchrun|slurm|mpi [--run-id ID] [--master ADDR:PORT]
//          [--slurm-job ID] [--cgroup GROUP] -- train ARGS...

#if canImport(Glibc)
import Glibc
#endif

func runLaunch(_ args: ArraySlice<String>) -> Never {
    let role = "launch"
    guard let separator = args.firstIndex(of: "--") else { fail(role, "expected -- and the rank's arguments", code: 2) }
    let opts = parseOptions(args[..<separator], role: role,
                            valued: ["ranks", "style", "run-id", "master", "slurm-job", "cgroup"], flags: [])
    let rankArguments = Array(args[(separator + 1)...])
    guard let ranks = opts.int("ranks", role: role), ranks > 0 else { fail(role, "--ranks N is required", code: 2) }
    let style = opts.string("style") ?? "torchrun"
    var common: [String] = []
    switch style {
    case "torchrun":
        common = ["WORLD_SIZE=\(ranks)", "GROUP_RANK=0"]
        if let run = opts.string("run-id") { common.append("TORCHELASTIC_RUN_ID=\(run)") }
        if let master = opts.string("master"), let colon = master.lastIndex(of: ":") {
            common += ["MASTER_ADDR=\(master[..<colon])", "MASTER_PORT=\(master[master.index(after: colon)...])"]
        }
    case "slurm":
        guard let job = opts.string("slurm-job") else { fail(role, "--style slurm needs --slurm-job", code: 2) }
        common = ["SLURM_JOB_ID=\(job)", "SLURM_NTASKS=\(ranks)"]
    case "mpi":
        common = ["OMPI_COMM_WORLD_SIZE=\(ranks)"]
    default:
        fail(role, "--style: torchrun, slurm or mpi", code: 2)
    }
    func rankVariables(_ rank: Int) -> [String] {
        switch style {
        case "torchrun": ["RANK=\(rank)", "LOCAL_RANK=\(rank)"]
        case "slurm": ["SLURM_PROCID=\(rank)", "SLURM_LOCALID=\(rank)"]
        default: ["OMPI_COMM_WORLD_RANK=\(rank)", "OMPI_COMM_WORLD_LOCAL_RANK=\(rank)"]
        }
    }
    // Mounted once here when needed, so that the ranks do not race to.
    if opts.string("cgroup") != nil { _ = cgroup2Mount(role: role) }
    // The launcher's own environment first, as launchers pass it on.
    var inherited: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
        inherited.append(String(cString: pointer))
        entry += 1
    }
    // The binary by its name: spawned as /proc/self/exe, its comm would be "exe".
    var pathBuffer = [CChar](repeating: 0, count: 4096)
    guard readlink("/proc/self/exe", &pathBuffer, pathBuffer.count - 1) > 0 else { fail(role, "readlink: \(errnoText())") }
    let executable = String(cString: pathBuffer)
    // Per rank: it writes a byte to `arrived` after each step and reads
    // one from `go` before the next (its descriptors 3 and 4).
    var arrived: [Int32] = [], go: [Int32] = [], pids: [pid_t] = []
    for rank in 0..<ranks {
        var up: [Int32] = [0, 0], down: [Int32] = [0, 0]
        guard pipe(&up) == 0, pipe(&down) == 0 else { fail(role, "pipe: \(errnoText())") }
        // Only the two a rank is given (dup2 clears the flag) reach it.
        for fd in up + down { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, down[0], 3)
        posix_spawn_file_actions_adddup2(&actions, up[1], 4)
        func forRank(_ text: String) -> String {
            text.split(separator: "{rank}", omittingEmptySubsequences: false).joined(separator: String(rank))
        }
        var argv = ["ark-lab-traffic"] + rankArguments.map(forRank) + ["--barrier-fds", "3,4"]
        if let cgroup = opts.string("cgroup") { argv += ["--cgroup", forRank(cgroup)] }
        let environment = inherited + common + rankVariables(rank)
        var pid: pid_t = 0
        let result = withCStrings(argv) { cArgv in
            withCStrings(environment) { cEnvironment in
                posix_spawn(&pid, executable, &actions, nil, cArgv, cEnvironment)
            }
        }
        posix_spawn_file_actions_destroy(&actions)
        guard result == 0 else { fail(role, "posix_spawn rank \(rank): \(errnoText(result))") }
        close(up[1])
        close(down[0])
        arrived.append(up[0])
        go.append(down[1])
        pids.append(pid)
    }
    emitJSON([("role", .string(role)), ("pid", .int(Int(getpid()))), ("ranks", .int(ranks))])
    // The barrier: every rank arrives, then all go. A rank that ends
    // (EOF) ends the barrier: the others see theirs close and finish.
    barrier: while true {
        for fd in arrived {
            var byte: UInt8 = 0
            var n = 0
            repeat { n = read(fd, &byte, 1) } while n < 0 && errno == EINTR
            if n != 1 { break barrier }
        }
        for fd in go {
            var byte: UInt8 = 1
            _ = write(fd, &byte, 1)
        }
    }
    go.forEach { close($0) }
    var failed = 0
    for pid in pids {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status != 0 { failed += 1 }
    }
    exit(failed == 0 ? 0 : 1)
}

private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
