"""Network fabric: TCP throughput and new connections/s between two ENIs against plain veths, the
time a security-group change takes to be enforced, and the time a VPC takes to come up; one run.

Paths, each between a client and a server namespace, measured in turns within every round:

* ``veth``: a plain veth pair between two namespaces, no forwarding, no rules (the baseline);
* ``routed``: client and server on two veths of a third namespace that forwards, no rules at all
  (what the router's extra hop costs by itself);
* ``eni …``: two ENIs in different subnets of one VPC (``Fabric.apply``), so every packet crosses
  the router's table: the outbound NACL of one subnet and the inbound NACL of the other on every
  packet, conntrack, and the egress/ingress security-group chains on the first packet of each
  connection. Security groups with 5 or ``--rules`` ingress rules (distinct /32 sources, the rule
  that admits the client last) and NACLs with 5 or ``--nacl`` entries per direction (deny entries
  that do not match, then the allow).

The same traffic generators run on every path, started inside the namespaces without network
capabilities (``netns.unprivileged``): a source that ``sendall()``s 1 MiB buffers for
``--seconds`` against a sink that discards, and ``--connectors`` processes that each connect,
read the server's close and close, in a loop, against as many acceptors that accept and close
(SO_REUSEPORT, a fresh port for every measurement). Each round runs the paths in another order;
figures are medians over ``--rounds`` (min-max next to them), and a ratio is the median of the
per-round ratios to the veth of the same round, so that load drifting over the run (a shared
machine) weighs on both sides of it.

Rule change (AuthorizeSecurityGroupIngress): with the largest rule set in place, a prober in the
client namespace retries a connection to a port no rule allows every ~2 ms; the clock starts,
the rule is added to the topology, compiled and applied. Reported: compiled, ``apply`` returned,
and the first connection the kernel let through (a refusal from the server counts: the SYN got
there); then the revoke's ``apply``. Timed on a quiet router, and again after the connection
tests, while the router still tracks their closing connections.

VPC start-up: ``Fabric.apply`` from nothing for a VPC with 2 subnets and 10 ENIs, then every ENI
connects to the next one (refused = the path works) until all have.

    sudo .venv/bin/python bench/net.py [--seconds 3] [--rounds 5] [--rules 500] [--nacl 40]
    sudo .venv/bin/python bench/net.py --quick      # 1 s, one round

Namespaces: the fabric's are ``cvbnet-…`` (``Names("bnet")``), the baselines' ``cvbnv-…``; all
are removed at the end, also after a failure, and any left by an interrupted run at the start.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from cove.fabric import netns
from cove.fabric.kernel import Fabric
from cove.fabric.names import Names
from cove.netmodel import (
    Eni,
    NaclAction,
    NaclEntry,
    Network,
    NetworkAcl,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vpc,
    compile_network,
)

NAMES = Names("bnet")
BASE = "cvbnv-"
VPC = "vpc-bnet"
SUBNETS = {"subnet-bnet-a": "10.0.1.0/24", "subnet-bnet-b": "10.0.2.0/24"}
ENIS = {
    f"eni-bnet-{side}{i}": (f"subnet-bnet-{side}", f"10.0.{1 if side == 'a' else 2}.{10 + i}")
    for side in ("a", "b")
    for i in range(1, 6)
}
CLIENT, SERVER = "eni-bnet-a1", "eni-bnet-b1"
CLIENT_IP, SERVER_IP = ENIS[CLIENT][1], ENIS[SERVER][1]
GROUP = "sg-bnet"
ALLOWED = (5200, 5999)
CLOSED_PORT, SINK_PORT, ACCEPT_PORTS = 5200, 5201, itertools.count(5300)
"""Nothing listens on CLOSED_PORT: a refusal proves the path. Every conn/s measurement listens on
a port of its own, so that no measurement meets the closing connections (server TIME_WAIT,
router conntrack) of an earlier one on the same addresses and ports."""
CHANGE_PORT = 6000
"""Rule changes open CHANGE_PORT + i, which no rule allows before."""
BUFFER = 1 << 20
MB = 1_000_000


# -- workers: run inside a namespace as `python bench/net.py worker KIND …`, standard library only --


def _wait_go() -> float:
    """Say ready, then wait for the start time (time.time()) on stdin."""
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    time.sleep(max(0.0, start - time.time()))
    return start


def _sink(port: int) -> None:
    server = socket.create_server(("0.0.0.0", port), backlog=64)

    def drain(conn: socket.socket) -> None:
        buffer = bytearray(BUFFER)
        with conn:
            while conn.recv_into(buffer):
                pass

    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def _acceptor(port: int) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    server.bind(("0.0.0.0", port))
    server.listen(4096)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        conn.close()


def _source(host: str, port: int, seconds: float) -> None:
    payload = memoryview(bytearray(os.urandom(BUFFER)))
    conn = socket.create_connection((host, port), timeout=10)
    start = _wait_go()
    sent, deadline = 0, start + seconds
    while time.time() < deadline:
        conn.sendall(payload)
        sent += BUFFER
    elapsed = time.time() - start
    conn.close()
    print(json.dumps({"bytes": sent, "seconds": elapsed}), flush=True)


def _connector(host: str, port: int, seconds: float) -> None:
    start = _wait_go()
    count = errors = 0
    deadline = start + seconds
    while time.time() < deadline:
        conn = socket.socket()
        conn.settimeout(2)
        try:
            conn.connect((host, port))
            conn.recv(1)
            count += 1
        except OSError:
            errors += 1
        finally:
            conn.close()
    print(json.dumps({"count": count, "errors": errors, "seconds": time.time() - start}), flush=True)


def _attempt(host: str, port: int, timeout: float) -> bool:
    """One connection attempt: True when the SYN reached the server (accepted or refused)."""
    conn = socket.socket()
    conn.setblocking(False)
    try:
        code = conn.connect_ex((host, port))
        if code not in (0, 115):  # EINPROGRESS
            return False
        _, writable, _ = select.select([], [conn], [], timeout)
        if not writable:
            return False
        error = conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return error in (0, 111)  # connected or ECONNREFUSED
    finally:
        conn.close()


def _prober(host: str, port: int) -> None:
    """Wait for a port to open: report whether it was closed before, then when it opened."""
    blocked = not _attempt(host, port, 0.3)
    print(json.dumps({"blocked": blocked}), flush=True)
    sys.stdin.readline()
    while not _attempt(host, port, 0.002):
        pass
    print(json.dumps({"open_at": time.time()}), flush=True)


def worker(argv: list[str]) -> None:
    kind, rest = argv[0], argv[1:]
    if kind == "sink":
        _sink(int(rest[0]))
    elif kind == "acceptor":
        _acceptor(int(rest[0]))
    elif kind == "source":
        _source(rest[0], int(rest[1]), float(rest[2]))
    elif kind == "connector":
        _connector(rest[0], int(rest[1]), float(rest[2]))
    elif kind == "prober":
        _prober(rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown worker {kind}")


# -- the parent: topologies, worker processes, measurements --


class Worker:
    """A worker process in a namespace, without network capabilities."""

    def __init__(self, namespace: str, *args: object) -> None:
        argv = [sys.executable, os.path.abspath(__file__), "worker", *(str(a) for a in args)]
        self.process = subprocess.Popen(
            netns.unprivileged(namespace, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def line(self) -> str:
        assert self.process.stdout is not None
        text = self.process.stdout.readline()
        if not text:
            raise RuntimeError(f"worker {self.process.args!r} exited ({self.process.wait()})")
        return text.strip()

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@dataclass(frozen=True)
class Lane:
    label: str
    client_ns: str
    server_ns: str
    server_ip: str
    rules: tuple[int, int] | None = None
    """(security-group ingress rules, NACL entries per direction) for the ENI paths."""


def network(sg_rules: int, nacl_entries: int, extra: tuple[SecurityGroupRule, ...] = ()) -> Network:
    """The VPC: `sg_rules` ingress rules (the one admitting 10.0.0.0/16 last) and a NACL on both
    subnets with `nacl_entries` per direction (the allow last)."""
    ingress = [
        SecurityGroupRule("tcp", ALLOWED, f"172.16.{i // 250}.{i % 250 + 1}/32", rule_id=f"sgr-bnet-{i}")
        for i in range(sg_rules - 1)
    ]
    ingress.append(SecurityGroupRule("tcp", ALLOWED, "10.0.0.0/16", rule_id="sgr-bnet-match"))
    group = SecurityGroup(
        GROUP, VPC, "bench", (*ingress, *extra), (SecurityGroupRule(rule_id="sgr-bnet-out"),)
    )
    entries: list[NaclEntry] = []
    for egress in (False, True):
        entries += [
            NaclEntry(10 * (k + 1), egress, NaclAction.DENY, "tcp", f"172.16.{k}.0/24", ALLOWED)
            for k in range(nacl_entries - 1)
        ]
        entries.append(NaclEntry(1000, egress, NaclAction.ALLOW, "-1", "10.0.0.0/16"))
    return Network(
        vpcs=[Vpc(VPC, ("10.0.0.0/16",))],
        subnets=[Subnet(s, VPC, cidr) for s, cidr in SUBNETS.items()],
        route_tables=[RouteTable("rtb-bnet", VPC, main=True)],
        network_acls=[
            NetworkAcl.allow_all("acl-bnet-default", VPC),
            NetworkAcl("acl-bnet", VPC, entries=tuple(entries), subnet_ids=tuple(SUBNETS)),
        ],
        security_groups=[group],
        enis=[Eni(eni, subnet, (address,), (GROUP,)) for eni, (subnet, address) in ENIS.items()],
    )


def _ip(namespace: str, *commands: str) -> None:
    netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")


def make_baselines() -> list[Lane]:
    """`cvbnv-a` —veth— `cvbnv-b`; and `cvbnv-ra` — `cvbnv-rr` (forwarding) — `cvbnv-rb`.
    Every veth is created inside a namespace of ours with its peer sent straight into another."""
    for name in ("a", "b", "ra", "rr", "rb"):
        netns.create(BASE + name)
    _ip(
        BASE + "a",
        f"link add eth0 type veth peer name eth0 netns {BASE}b",
        f"address add {CLIENT_IP}/16 dev eth0",
        "link set eth0 up",
    )
    _ip(BASE + "b", f"address add {SERVER_IP}/16 dev eth0", "link set eth0 up")
    router = BASE + "rr"
    netns.write_sysctl(router, "net.ipv4.ip_forward", "1")
    _ip(
        router,
        f"link add va type veth peer name eth0 netns {BASE}ra",
        f"link add vb type veth peer name eth0 netns {BASE}rb",
        "address add 10.0.1.1/24 dev va",
        "address add 10.0.2.1/24 dev vb",
        "link set va up",
        "link set vb up",
    )
    for side, address, gateway in (("ra", CLIENT_IP, "10.0.1.1"), ("rb", SERVER_IP, "10.0.2.1")):
        _ip(
            BASE + side,
            f"address add {address}/24 dev eth0",
            "link set eth0 up",
            f"route add default via {gateway}",
        )
    return [
        Lane("veth (baseline)", BASE + "a", BASE + "b", SERVER_IP),
        Lane("routed, no rules", BASE + "ra", BASE + "rb", SERVER_IP),
    ]


def remove_baselines() -> None:
    for name in netns.listing(BASE):
        netns.kill_processes(name)
        netns.remove(name)


def start(workers: list[Worker]) -> list[Worker]:
    for worker in workers:
        if worker.line() != "ready":
            raise RuntimeError(f"worker {worker.process.args!r} did not start")
    return workers


def _run_clients(workers: list[Worker]) -> list[dict[str, float]]:
    try:
        for worker in workers:
            if worker.line() != "ready":
                raise RuntimeError("client did not start")
        start = time.time() + 0.2
        for worker in workers:
            worker.send(repr(start))
        return [json.loads(worker.line()) for worker in workers]
    finally:
        for worker in workers:
            worker.stop()


def throughput(path: Lane, seconds: float) -> float:
    """MB/s of one TCP stream."""
    (result,) = _run_clients([Worker(path.client_ns, "source", path.server_ip, SINK_PORT, seconds)])
    return result["bytes"] / result["seconds"] / MB


def connections(path: Lane, seconds: float, connectors: int) -> float:
    """New TCP connections per second (handshake, server close, client close)."""
    port = next(ACCEPT_PORTS)
    if port > ALLOWED[1]:
        raise RuntimeError("out of acceptor ports: fewer rounds")
    acceptors = start([Worker(path.server_ns, "acceptor", port) for _ in range(connectors)])
    try:
        results = _run_clients(
            [Worker(path.client_ns, "connector", path.server_ip, port, seconds) for _ in range(connectors)]
        )
    finally:
        for acceptor in acceptors:
            acceptor.stop()
    if any(r["errors"] for r in results):
        print(f"  note: {path.label}: {sum(r['errors'] for r in results):.0f} failed connections", flush=True)
    return sum(r["count"] for r in results) / max(r["seconds"] for r in results)


def _ready(namespace: str, host: str, deadline: float) -> float:
    """Time when `namespace` first reached `host` (refused counts); raises after the deadline."""
    while time.monotonic() < deadline:
        with netns.entered(namespace):
            conn = socket.socket()
        conn.settimeout(0.05)
        try:
            conn.connect((host, CLOSED_PORT))
            return time.monotonic()
        except ConnectionRefusedError:
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
        finally:
            conn.close()
    raise RuntimeError(f"{namespace} never reached {host}")


def create_vpc(fabric: Fabric) -> tuple[float, float, float]:
    """From nothing: seconds to compile, until `apply` returned, until all 10 ENIs reached a peer."""
    fabric.teardown()
    started = time.monotonic()
    ruleset = compile_network(network(5, 5))
    compiled = time.monotonic()
    fabric.apply(ruleset)
    applied = time.monotonic()
    order = list(ENIS)
    peers = {eni: ENIS[order[(i + 1) % len(order)]][1] for i, eni in enumerate(order)}
    results: dict[str, float] = {}

    def probe(eni: str) -> None:
        results[eni] = _ready(NAMES.eni(eni), peers[eni], applied + 10)

    threads = [threading.Thread(target=probe, args=(eni,)) for eni in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(results) != len(order):
        raise RuntimeError("some ENIs never became ready")
    return compiled - started, applied - started, max(results.values()) - started


def change_rule(fabric: Fabric, sg_rules: int, nacl: int, index: int) -> tuple[float, float, float, float]:
    """Authorize one ingress rule under the big rule set: seconds until compiled, until `apply`
    returned and until the kernel let a connection through; then the revoke's apply."""
    port = CHANGE_PORT + index
    prober = Worker(NAMES.eni(CLIENT), "prober", SERVER_IP, port)
    try:
        if not json.loads(prober.line())["blocked"]:
            raise RuntimeError(f"port {port} was open before the rule was added")
        rule = SecurityGroupRule("tcp", (port, port), f"{CLIENT_IP}/32", rule_id=f"sgr-bnet-new{index}")
        prober.send("go")
        time.sleep(0.02)  # let the prober start hammering before the clock starts
        started = time.time()
        ruleset = compile_network(network(sg_rules, nacl, (rule,)))
        compiled = time.time()
        fabric.apply(ruleset)
        applied = time.time()
        open_at = float(json.loads(prober.line())["open_at"])
    finally:
        prober.stop()
    revoke = time.monotonic()
    fabric.apply(compile_network(network(sg_rules, nacl)))
    revoked = time.monotonic() - revoke
    return compiled - started, applied - started, open_at - started, revoked


@dataclass
class Figures:
    mbs: dict[str, list[float]]
    cps: dict[str, list[float]]


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"


def conntrack_entries() -> int:
    output = netns.run(NAMES.router(VPC), ["conntrack", "-C"], check=False).stdout.strip()
    return int(output) if output.isdigit() else -1


@dataclass
class Changes:
    label: str
    timings: list[tuple[float, float, float, float]]


def _ratio(values: list[float], base: list[float]) -> float:
    """The median over rounds of value / baseline of the same round: load that drifts over the run
    (a shared machine) weighs on both sides of each ratio."""
    return statistics.median(v / b for v, b in zip(values, base, strict=True))


def report(figures: Figures, changes: list[Changes], creates: list[tuple[float, float, float]]) -> bool:
    base = "veth (baseline)"
    print()
    print(
        f"{'path':24} {'MB/s (min-max)':>22} {'Gbit/s':>6} {'vs veth':>7}  {'conn/s (min-max)':>22} {'vs veth':>7}"
    )
    for label in figures.mbs:
        mbs = statistics.median(figures.mbs[label])
        print(
            f"{label:24} {_median(figures.mbs[label]):>22} {mbs * 8 / 1000:6.2f} "
            f"{_ratio(figures.mbs[label], figures.mbs[base]):7.2f}  {_median(figures.cps[label]):>22} "
            f"{_ratio(figures.cps[label], figures.cps[base]):7.2f}"
        )
    for group in changes:
        timings = group.timings
        print(f"\nrule change (authorize one ingress rule, {len(timings)}x), {group.label}:")
        print(f"  network built + compiled  {_ms([c[0] for c in timings])}")
        print(f"  apply returned            {_ms([c[1] for c in timings])}")
        print(f"  enforced (probe passed)   {_ms([c[2] for c in timings])}")
        print(f"  revoke: apply returned    {_ms([c[3] for c in timings])}")
    print(f"\nVPC with 2 subnets and 10 ENIs, from nothing ({len(creates)}x):")
    print(f"  compiled                  {_ms([c[0] for c in creates])}")
    print(f"  apply returned            {_ms([c[1] for c in creates])}")
    print(f"  all 10 ENIs ready         {_ms([c[2] for c in creates])}")
    worst = [label for label in figures.mbs if label.startswith("eni")][-1]
    mbs_ratio = _ratio(figures.mbs[worst], figures.mbs[base])
    cps_ratio = _ratio(figures.cps[worst], figures.cps[base])
    enforced = statistics.median([c[2] for c in changes[0].timings])
    ready = statistics.median([c[2] for c in creates])
    checks = [
        (f"throughput, {worst}: {mbs_ratio:.0%} of veth", mbs_ratio >= 0.9, ">= 90 %"),
        (f"connections/s, {worst}: {cps_ratio:.0%} of veth", cps_ratio >= 0.8, ">= 80 %"),
        (
            f"rule change enforced in {enforced * 1000:.0f} ms ({changes[0].label})",
            enforced <= 0.1,
            "<= 100 ms",
        ),
        (f"10 ENIs ready in {ready * 1000:.0f} ms", ready <= 1.0, "<= 1 s"),
    ]
    print("\ntargets:")
    for text, ok, target in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {text} (target {target})")
    return all(ok for _, ok, _ in checks)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput and conn/s measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rules", type=int, default=500, help="security-group ingress rules, large case")
    parser.add_argument("--nacl", type=int, default=40, help="NACL entries per direction, large case")
    parser.add_argument(
        "--connectors", type=int, default=2, help="client (and acceptor) processes for conn/s"
    )
    parser.add_argument("--changes", type=int, default=10, help="rule changes timed")
    parser.add_argument("--busy-changes", type=int, default=1, help="rule changes timed after the traffic")
    parser.add_argument("--creates", type=int, default=3, help="VPC creations timed")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--quick", action="store_true", help="1 s measurements, one round, 3 changes")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.changes, args.busy_changes, args.creates = 1.0, 1, 3, 1, 1
    if os.geteuid() != 0:
        raise SystemExit("bench/net.py needs root (network namespaces, nftables)")

    fabric = Fabric(NAMES)
    configs = [(5, 5), (5, args.nacl), (args.rules, 5), (args.rules, args.nacl)]
    with ExitStack() as stack:
        stack.callback(remove_baselines)
        stack.callback(fabric.teardown)
        fabric.teardown()
        remove_baselines()

        print(f"VPC start-up ({args.creates}x) ...", flush=True)
        creates = [create_vpc(fabric) for _ in range(args.creates)]
        fabric.apply(compile_network(network(args.rules, args.nacl)))
        print(f"rule changes, quiet router ({args.changes}x) ...", flush=True)
        label = f"sg {args.rules} + nacl {args.nacl}, {conntrack_entries()} conntrack entries"
        changes = [
            Changes(label, [change_rule(fabric, args.rules, args.nacl, i) for i in range(args.changes)])
        ]
        paths = make_baselines()
        eni_paths = [
            Lane(f"eni sg {sg} + nacl {nacl}", NAMES.eni(CLIENT), NAMES.eni(SERVER), SERVER_IP, (sg, nacl))
            for sg, nacl in configs
        ]
        for namespace in (BASE + "b", BASE + "rb", NAMES.eni(SERVER)):
            for sink in start([Worker(namespace, "sink", SINK_PORT)]):
                stack.callback(sink.stop)
        lanes = [*paths, *eni_paths]
        figures = Figures({lane.label: [] for lane in lanes}, {lane.label: [] for lane in lanes})
        for number in range(args.rounds):
            print(f"round {number + 1}/{args.rounds} ...", flush=True)
            # Each round in another order, so that no lane always follows the same one.
            for path in lanes[number % len(lanes) :] + lanes[: number % len(lanes)]:
                if path.rules is not None:
                    fabric.apply(compile_network(network(*path.rules)))
                figures.mbs[path.label].append(throughput(path, args.seconds))
                figures.cps[path.label].append(connections(path, args.seconds, args.connectors))
        if args.busy_changes:
            # Right after the connection tests the router tracks tens of thousands of closing flows.
            fabric.apply(compile_network(network(args.rules, args.nacl)))
            label = f"busy router, {conntrack_entries()} conntrack entries"
            print(f"rule changes, {label} ({args.busy_changes}x) ...", flush=True)
            busy = [
                change_rule(fabric, args.rules, args.nacl, args.changes + i) for i in range(args.busy_changes)
            ]
            changes.append(Changes(label, busy))
        met = report(figures, changes, creates)
    left = netns.listing(NAMES.prefix) + netns.listing(BASE)
    if left:
        raise SystemExit(f"namespaces left behind: {left}")
    sys.exit(1 if args.check and not met else 0)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2:])
    else:
        main()
