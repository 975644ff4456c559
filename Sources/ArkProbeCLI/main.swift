import KernelProbe
do {
    let probe = try Probe()
    print(probe.report)
} catch {
    print(error)
}
