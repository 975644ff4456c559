// ark-lab-traffic: test-only traffic generator for the namespace lab
// (Tests/EndToEndTests/Lab.swift). Not shipped.
//
//   sink --port P [--bind ADDR] [--wait-for-go] [--rcvbuf BYTES]
//   send --to HOST --port P --bytes N [--threads T] [--chunk C] [--sndbuf BYTES]
//        [--prefill] [--hold-until-go] [--keep-open] [--ack-timeout SECONDS]
//        [--hand-over-after BYTES]
//   connect-timeout --to HOST --port P --wait SECONDS
//   train --to HOST --port P --chunk BYTES --seconds S
//   launch --ranks N --style torchrun|slurm|mpi ... -- train ARGS...
//   exit-together --to HOST --port P --threads T
//
// Each subcommand prints one JSON object line on stdout when it finishes
// (send --prefill prints a "prefilled" and a "go" phase line before it,
// send --hold-until-go a "connected" one);
// diagnostics go to stderr.

#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: ark-lab-traffic sink --port P [--bind ADDR] [--wait-for-go] [--rcvbuf BYTES]
       ark-lab-traffic send --to HOST --port P --bytes N [--threads T] [--chunk C] [--sndbuf BYTES]
                            [--prefill] [--hold-until-go] [--keep-open] [--ack-timeout SECONDS]
                            [--hand-over-after BYTES]
       ark-lab-traffic connect-timeout --to HOST --port P --wait SECONDS
       ark-lab-traffic train --to HOST --port P --chunk BYTES --seconds S
       ark-lab-traffic launch --ranks N --style torchrun|slurm|mpi [--run-id ID] [--master ADDR:PORT]
                              [--slurm-job ID] [--cgroup GROUP] -- train ARGS...
       ark-lab-traffic exit-together --to HOST --port P --threads T
"""

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    writeAll(2, usage + "\n")
    exit(2)
}
switch arguments[1] {
case "sink": runSink(arguments.dropFirst(2))
case "send": runSend(arguments.dropFirst(2))
case "connect-timeout": runConnectTimeout(arguments.dropFirst(2))
case "train": runTrain(arguments.dropFirst(2))
case "launch": runLaunch(arguments.dropFirst(2))
case "exit-together": runExitTogether(arguments.dropFirst(2))
case "-h", "--help", "help":
    print(usage)
    exit(0)
default:
    writeAll(2, "unknown subcommand \(arguments[1])\n" + usage + "\n")
    exit(2)
}
