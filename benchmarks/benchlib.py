# Shared pieces of the kernel-side benchmarks (benchmarks/kernel-cost,
# send-path-cost, retransmit-cpu, abuse-processes): the agent as a child
# process, per-program BPF run-time statistics, a two-namespace lab with
# iptables drops, and traffic generators. Python standard library only.
#
# Everything a benchmark changes (sysctl, namespaces, child processes) is
# registered with `Cleanup` and undone on exit, on SIGINT/SIGTERM and on
# errors.

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, ".build", "release", "ark-probe")
LIVE_BENCH = os.path.join(ROOT, ".build", "release", "ark-probe-live-bench")
TRAFFIC = os.path.join(ROOT, "benchmarks", "traffic.py")
LAB_PREFIX = "arkb-"


def fail(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(1)


def require(root=True, tools=()):
    """Exits with a clear message unless running as root with every tool."""
    problems = []
    if root and os.geteuid() != 0:
        problems.append("needs root (BPF, network namespaces, iptables, sysctl)")
    for tool in tools:
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            problems.append(f"missing tool '{tool}' (benchmarks/run installs the benchmarks' own tools, "
                            "scripts/setup the project's)")
    if not os.access(AGENT, os.X_OK):
        problems.append(f"no agent binary at {AGENT}: build it with "
                        "`swift build -c release --static-swift-stdlib --product ark-probe`")
    if problems:
        fail("; ".join(problems))


class Cleanup:
    """Undo actions, run last-in first-out exactly once; also on SIGTERM."""

    def __init__(self):
        self.actions = []
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, number, frame):
        raise SystemExit(128 + number)

    def add(self, action):
        self.actions.append(action)

    def run(self):
        while self.actions:
            action = self.actions.pop()
            try:
                action()
            except Exception as error:  # keep undoing the rest
                print(f"cleanup: {error}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.run()
        return False


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


# MARK: BPF run-time statistics

def enable_bpf_stats(cleanup):
    """Turns on kernel.bpf_stats_enabled and restores the old value at exit."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1")

    def restore():
        with open(path, "w") as f:
            f.write(old)
    cleanup.add(restore)


def bpf_object_ids(pid, key):
    """Ids of the BPF programs ("prog_id") or maps ("map_id") process `pid`
    holds, from /proc/PID/fdinfo (this bpftool build cannot show owners)."""
    ids = set()
    directory = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(directory):
        try:
            with open(os.path.join(directory, fd)) as f:
                for line in f:
                    if line.startswith(key + ":"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def programs_of(pid):
    """The BPF programs process `pid` holds: {name: {run_cnt, run_time_ns, id}}."""
    ids = bpf_object_ids(pid, "prog_id")
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True).stdout
    programs = {}
    for program in json.loads(out):
        if program["id"] not in ids:
            continue
        name = program.get("name", f"id{program['id']}")
        programs[name] = {
            "id": program["id"],
            "run_cnt": program.get("run_cnt", 0),
            "run_time_ns": program.get("run_time_ns", 0),
        }
    return programs


def program_deltas(before, after, seconds):
    """Per program: invocations, invocations per second, ns per invocation."""
    rows = {}
    for name, end in after.items():
        start = before.get(name, {"run_cnt": 0, "run_time_ns": 0})
        calls = end["run_cnt"] - start["run_cnt"]
        ns = end["run_time_ns"] - start["run_time_ns"]
        rows[name] = {
            "calls": calls,
            "calls_per_s": calls / seconds,
            "ns_per_call": ns / calls if calls else 0.0,
            "cpu_share": ns / (seconds * 1e9),  # of one core
        }
    return rows


def map_entry_counts(pid):
    """Entries of the agent's hash maps (LRU hash), {name: (count,
    max_entries)}; other map types cannot be iterated from user space and
    are left out. A dump taken while the map churns also sees keys
    evicted and inserted during the dump, so it can exceed max_entries."""
    ids = bpf_object_ids(pid, "map_id")
    out = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True, check=True).stdout
    counts = {}
    for m in json.loads(out):
        if m["id"] not in ids:
            continue
        if "hash" not in m.get("type", ""):
            continue
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                              capture_output=True, text=True)
        try:
            # Distinct keys: a dump of a map being updated can repeat some.
            count = len({json.dumps(entry.get("key")) for entry in json.loads(dump.stdout)})
        except ValueError:
            count = -1
        counts[m["name"]] = (count, m.get("max_entries", 0))
    return counts


# MARK: The agent

class Agent:
    """`ark-probe run` with the shipped rules, JSONL to a file."""

    def __init__(self, cleanup, output, extra=()):
        self.output = output
        self.stderr_path = output + ".stderr"
        with open(output, "w"):
            pass
        self.stderr = open(self.stderr_path, "w")
        self.process = subprocess.Popen([AGENT, "run", "--output", output, *extra],
                                        stdout=subprocess.DEVNULL, stderr=self.stderr, cwd=ROOT)
        cleanup.add(self.stop)
        self.pid = self.process.pid
        self._wait_until_loaded()

    def _wait_until_loaded(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"the agent exited with status {self.process.returncode}: {self.stderr_text()}")
            try:
                if programs_of(self.pid):
                    time.sleep(0.5)  # let it finish attaching and start reading
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.2)
        fail("the agent did not load its BPF programs within 30 s")

    def stderr_text(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read().strip()[-2000:]

    def cpu_seconds(self):
        """utime + stime of the agent so far (all threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def status(self, key):
        """A number from /proc/PID/status (VmRSS and VmHWM in kB,
        voluntary_ctxt_switches)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        self.stderr.close()
        return self.process.returncode


def read_jsonl(path):
    """(lines by event_type, number of invalid lines, first invalid line)."""
    kinds, invalid, first_invalid = {}, 0, None
    with open(path, "rb") as f:
        for raw in f:
            try:
                record = json.loads(raw)
                kind = record.get("event_type") or record.get("type") or "?"
            except ValueError:
                invalid += 1
                first_invalid = first_invalid or raw[:200]
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds, invalid, first_invalid


# MARK: Traffic processes

def spawn(cleanup, arguments, netns=None, **kwargs):
    """A child process killed at cleanup; in `netns` if given."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    process = subprocess.Popen(prefix + arguments, **kwargs)

    def stop():
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    cleanup.add(stop)
    return process


def traffic(*arguments):
    return [sys.executable, TRAFFIC, *map(str, arguments)]


def wait_for_port(host, port, netns=None, timeout=10):
    """Waits until a TCP listener answers (connecting from `netns`)."""
    probe = f"import socket; socket.create_connection(('{host}', {port}), timeout=1).close()"
    prefix = ["ip", "netns", "exec", netns] if netns else []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(prefix + [sys.executable, "-c", probe], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    fail(f"nothing listens on {host}:{port} after {timeout} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# MARK: Namespace lab

class Lab:
    """Sender and receiver namespaces joined by a veth pair (10.198.N.1 ->
    10.198.N.2); deleting the namespaces removes the pair and the rules."""

    def __init__(self, cleanup):
        self.remove_stale()
        tag = os.getpid()
        self.sender = f"{LAB_PREFIX}s-{tag}"
        self.receiver = f"{LAB_PREFIX}r-{tag}"
        subnet = 1 + os.getpid() % 250
        self.sender_ip = f"10.198.{subnet}.1"
        self.receiver_ip = f"10.198.{subnet}.2"
        cleanup.add(self.remove)
        self._ip("netns", "add", self.sender)
        self._ip("netns", "add", self.receiver)
        self._ip("link", "add", "name", "arkb-s", "netns", self.sender, "type", "veth",
                 "peer", "name", "arkb-r", "netns", self.receiver)
        for ns, dev, address in [(self.sender, "arkb-s", self.sender_ip),
                                 (self.receiver, "arkb-r", self.receiver_ip)]:
            self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            self._ip("-n", ns, "link", "set", dev, "up")

    @staticmethod
    def _ip(*arguments):
        result = subprocess.run(["ip", *arguments], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"`ip {' '.join(arguments)}` failed: {result.stderr.strip()}")

    def drop_random(self, port, probability):
        """Drops data packets (≥ 200 bytes) to `port` at random, replacing
        any earlier rule."""
        subprocess.run(["ip", "netns", "exec", self.receiver, "iptables", "-w", "-F", "INPUT"], check=True)
        subprocess.run(["ip", "netns", "exec", self.receiver, "iptables", "-w", "-A", "INPUT",
                        "-p", "tcp", "--dport", str(port), "-m", "length", "--length", "200:65535",
                        "-m", "statistic", "--mode", "random", "--probability", str(probability),
                        "-j", "DROP"], check=True)

    def dropped_packets(self):
        out = subprocess.run(["ip", "netns", "exec", self.receiver, "iptables", "-w", "-L", "INPUT",
                              "-v", "-n", "-x"], capture_output=True, text=True, check=True).stdout
        total = 0
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "DROP" and fields[0].isdigit():
                total += int(fields[0])
        return total

    def remove(self):
        for ns in (self.sender, self.receiver):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    @staticmethod
    def remove_stale():
        """Namespaces left by a benchmark that was killed with SIGKILL."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            if not name.startswith(LAB_PREFIX):
                continue
            owner = name.rsplit("-", 1)[-1]
            if owner.isdigit() and os.path.exists(f"/proc/{owner}"):
                continue  # another benchmark's lab, still running
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


# MARK: Loads

LAB_PORT = 5201


def bulk_loopback(cleanup, seconds, chunk):
    """Bulk TCP over loopback (a fresh sink and sender): (bytes per second,
    CPU seconds the sender and the sink used, softirq work included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    port = free_port()
    sink = spawn(cleanup, traffic("sink", port, "127.0.0.1"))
    wait_for_port("127.0.0.1", port)
    out = subprocess.run(traffic("bulk", "127.0.0.1", port, seconds, chunk),
                         capture_output=True, text=True, check=True).stdout
    sink.terminate()
    sink.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return json.loads(out)["bytes_per_s"], cpu


class RetransmitLoad:
    """Paced small messages from the lab's sender to its receiver, with
    random drops of data packets: each drop costs one retransmission or a
    few (small segments, so GSO rarely multiplies them)."""

    def __init__(self, cleanup, lab, probability, flows=64, size=1000):
        self.cleanup, self.lab, self.flows, self.size = cleanup, lab, flows, size
        self.set_drop(probability)
        spawn(cleanup, traffic("sink", LAB_PORT, lab.receiver_ip), netns=lab.receiver)
        wait_for_port(lab.receiver_ip, LAB_PORT, netns=lab.sender)

    def set_drop(self, probability):
        self.probability = probability
        self.lab.drop_random(LAB_PORT, probability)

    def start(self, rate, seconds):
        """The sender process; it prints a JSON summary at the end."""
        return spawn(self.cleanup, traffic("paced", self.lab.receiver_ip, LAB_PORT, self.flows, rate,
                                           self.size, seconds),
                     netns=self.lab.sender, stdout=subprocess.PIPE, text=True)

    def run(self, rate, seconds):
        """Runs the sender to the end; its summary."""
        return json.loads(self.start(rate, seconds).communicate()[0])


def count_kinds(path, offset=0):
    """Lines per event_type from byte `offset` on, and the offset reached
    (only whole lines are counted)."""
    kinds = {}
    with open(path, "rb") as f:
        f.seek(offset)
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            offset += len(raw)
            try:
                kind = json.loads(raw).get("event_type", "?")
            except ValueError:
                kind = "invalid"
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds, offset


def compile_c(name, scratch):
    """benchmarks/NAME.c, compiled with clang or cc into scratch; its path."""
    compiler = next((c for c in ("clang", "/opt/swift/usr/bin/clang", "cc")
                     if subprocess.run(["sh", "-c", f"command -v {c}"], capture_output=True).returncode == 0),
                    None)
    if not compiler:
        fail(f"no C compiler (clang or cc) to build benchmarks/{name}.c")
    binary = os.path.join(scratch, name)
    subprocess.run([compiler, "-O2", "-o", binary, os.path.join(ROOT, "benchmarks", f"{name}.c")], check=True)
    return binary


class ConnectChurn:
    """Short-lived processes (benchmarks/churn.c, compiled here with clang
    or cc), each connecting to a sink on the loopback of a namespace of
    their own (tcp_tw_reuse on there, so the host's ports are untouched),
    sending 64 bytes and exiting."""

    def __init__(self, cleanup, scratch):
        self.binary = compile_c("churn", scratch)
        Lab.remove_stale()
        self.cleanup = cleanup
        self.namespace = f"{LAB_PREFIX}p-{os.getpid()}"
        cleanup.add(lambda: subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True))
        subprocess.run(["ip", "netns", "add", self.namespace], check=True)
        for command in (["ip", "link", "set", "lo", "up"],
                        ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"],
                        ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65000"]):
            subprocess.run(["ip", "netns", "exec", self.namespace, *command], check=True)
        spawn(cleanup, traffic("sink", LAB_PORT, "127.0.0.1"), netns=self.namespace)
        wait_for_port("127.0.0.1", LAB_PORT, netns=self.namespace)

    def start(self, count, workers):
        """The forking process; it prints a JSON summary at the end."""
        return spawn(self.cleanup, [self.binary, str(LAB_PORT), str(count), str(workers)],
                     netns=self.namespace, stdout=subprocess.PIPE, text=True)

    def run(self, count, workers):
        return json.loads(self.start(count, workers).communicate()[0])
