"""Flow-log records from real packets: a router namespace and three ENI namespaces, traffic sent
with sockets inside them, records read back from the collector's sink.

ENI A (10.0.1.10) and C (10.0.1.30) share subnet 1, B (10.0.2.20) is in subnet 2. The router's
forward chain accepts TCP 8080, UDP 5353 and ICMP echo to B; refuses everything else at the
receiver's security group, and TCP 7777 already at A's; and a stateless rule (a NACL) drops B's
echo replies. The router itself serves UDP 53 at 10.0.0.2 and 169.254.169.253 (exempt).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cove.fabric import netns
from cove.fabric.flowlogs import FlowLogCollector, FlowLogSpec
from tests.fabric.fabric_support import fabric_available
from tests.fabric.flowlogs.flowlog_topology import Topology, unique_tag

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        not fabric_available(), reason="needs root, iproute2, nftables and network namespaces"
    ),
]

ACCOUNT = "111122223333"
VPC = "vpc-0f10f10f10f10f10f"
ENI_A, ENI_B, ENI_C = "eni-0a1a1a1a1a1a1a1a1", "eni-0b2b2b2b2b2b2b2b2", "eni-0c3c3c3c3c3c3c3c3"
A, B, C = "10.0.1.10", "10.0.2.20", "10.0.1.30"
RESOLVER, DNS_ALIAS = "10.0.0.2", "169.254.169.253"
V5 = (
    "${version} ${interface-id} ${flow-direction} ${action} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${tcp-flags} ${type} ${vpc-id} ${subnet-id} ${traffic-path} ${log-status}"
)


def table(a: str, b: str, c: str) -> str:
    return f"""
table inet cove {{
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ip saddr {B} icmp type echo-reply log prefix "acl-2|nacl-outbound|100" group 100 drop
    ct state established,related accept
    iifname "{a}" tcp dport 7777 log prefix "{ENI_A}|sg-egress|implicit" group 100 drop
    oifname "{b}" tcp dport 8080 accept
    oifname "{b}" udp dport 5353 accept
    oifname "{b}" icmp type echo-request accept
    oifname "{b}" log prefix "{ENI_B}|sg-ingress|implicit" group 100 drop
    oifname "{a}" log prefix "{ENI_A}|sg-ingress|implicit" group 100 drop
    oifname "{c}" log prefix "{ENI_C}|sg-ingress|implicit" group 100 drop
  }}
}}
"""


@dataclass
class World:
    topo: Topology
    sent: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    calls: list[tuple[float, str, str]] = field(default_factory=list)

    def sink(self, flow_log_id: str, eni_id: str, lines: list[tuple[int, str]]) -> None:
        self.calls.append((time.time(), flow_log_id, eni_id))
        self.sent.setdefault((flow_log_id, eni_id), []).extend(lines)

    def lines(self, flow_log_id: str, eni_id: str) -> list[str]:
        return [line for _, line in self.sent.get((flow_log_id, eni_id), [])]

    def inside(self, name: str, body: Callable[[], object]) -> object:
        return self.topo.inside(name, body)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    topo = Topology(unique_tag())
    try:
        topo.build_router()
        a = topo.add_eni("a", ENI_A, A, 24, "10.0.1.1", "subnet-1")
        b = topo.add_eni("b", ENI_B, B, 24, "10.0.2.1", "subnet-2")
        c = topo.add_eni("c", ENI_C, C, 24, "10.0.1.1", "subnet-1")
        for address in (RESOLVER, DNS_ALIAS):
            netns.run(topo.router, ["ip", "addr", "add", f"{address}/32", "dev", "lo"])
        topo.load_table(table(a.interface, b.interface, c.interface))
        yield World(topo)
    finally:
        topo.remove()
    assert not any(netns.exists(n) for n in topo.namespaces())


@pytest.fixture
def collector(world: World) -> Iterator[FlowLogCollector]:
    world.sent.clear()
    world.calls.clear()
    flows = FlowLogCollector(world.topo.router, world.sink, interval_s=3600, exempt=(RESOLVER,))
    enis = [world.topo.enis[n].info(VPC, ACCOUNT) for n in ("a", "b", "c")]
    flows.update(
        enis,
        [
            FlowLogSpec("fl-all", "ALL", None, (ENI_A, ENI_B, ENI_C), 60),
            FlowLogSpec("fl-v5-reject", "REJECT", V5, (ENI_A, ENI_B), 60),
        ],
        vpc_cidrs=("10.0.0.0/16",),
    )
    flows.start()
    try:
        yield flows
    finally:
        flows.stop(flush=False)


def settle_and_flush(flows: FlowLogCollector) -> tuple[int, int]:
    """Let the last packets reach the log socket, then close the interval; its bounds."""
    time.sleep(0.3)
    begin = int(flows.window_start)
    flows.flush()
    return begin, int(flows.window_start)


def ip_mib() -> dict[str, int]:
    """This thread's namespace's IPv4 counters (/proc/thread-self follows setns, /proc/self not)."""
    values: dict[str, int] = {}
    for name in ("snmp", "netstat"):
        with open(f"/proc/thread-self/net/{name}") as handle:
            rows = [line.split() for line in handle]
        for keys, numbers in zip(rows[::2], rows[1::2], strict=True):
            if keys[0] in ("Ip:", "IpExt:"):
                values.update({f"{keys[0]}{k}": int(v) for k, v in zip(keys[1:], numbers[1:], strict=True)})
    return values


def split(line: str) -> tuple[list[str], int, int]:
    """A default-format line without its start/end (returned apart)."""
    fields = line.split()
    return fields[:10] + fields[12:], int(fields[10]), int(fields[11])


def traffic(lines: list[str]) -> list[list[str]]:
    return sorted(split(line)[0] for line in lines)


def assert_nodata(line: str, eni_id: str, window: tuple[int, int]) -> None:
    assert line == f"2 {ACCOUNT} {eni_id} - - - - - - - {window[0]} {window[1]} - NODATA"


def echo_request(dst: str, ident: int) -> bytes | None:
    """One ICMP echo (56 bytes of data, an 84-byte datagram); the reply if one comes in 0.5 s."""
    body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"p" * 56
    total = sum(struct.unpack("!32H", body))
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(0.5)
        sock.sendto(body[:2] + struct.pack("!H", checksum) + body[4:], (dst, 0))
        try:
            return sock.recv(200)
        except TimeoutError:
            return None


def test_tcp_exchange_is_recorded_on_both_enis_with_the_kernels_packet_counts(
    world: World, collector: FlowLogCollector
) -> None:
    server = netns.socket_in(world.topo.enis["b"].namespace, (B, 8080))
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    t0 = int(time.time())

    def exchange() -> None:
        before.update(ip_mib())
        client = socket.create_connection((B, 8080), timeout=2)
        peer, _ = server.accept()
        client.sendall(b"q" * 100)
        assert peer.recv(100) == b"q" * 100
        peer.sendall(b"r" * 50)
        assert client.recv(50) == b"r" * 50
        client.close()
        assert peer.recv(10) == b""
        peer.close()
        time.sleep(0.2)
        after.update(ip_mib())

    try:
        world.inside("a", exchange)
    finally:
        server.close()
    window = settle_and_flush(collector)
    sent = after["Ip:OutRequests"] - before["Ip:OutRequests"]
    got = after["Ip:InReceives"] - before["Ip:InReceives"]
    sent_bytes = after["IpExt:OutOctets"] - before["IpExt:OutOctets"]
    got_bytes = after["IpExt:InOctets"] - before["IpExt:InOctets"]
    assert sent >= 5 and got >= 4  # handshake, data, FINs and their ACKs

    a_lines = world.lines("fl-all", ENI_A)
    b_lines = world.lines("fl-all", ENI_B)
    assert len(a_lines) == 2 and len(b_lines) == 2
    sport = int(next(line for line in a_lines if line.split()[4] == B).split()[5])
    out_a = ["2", ACCOUNT, ENI_A, A, B, str(sport), "8080", "6", str(sent), str(sent_bytes), "ACCEPT", "OK"]
    in_a = ["2", ACCOUNT, ENI_A, B, A, "8080", str(sport), "6", str(got), str(got_bytes), "ACCEPT", "OK"]
    assert traffic(a_lines) == sorted([out_a, in_a])
    in_b = ["2", ACCOUNT, ENI_B, A, B, str(sport), "8080", "6", str(sent), str(sent_bytes), "ACCEPT", "OK"]
    out_b = ["2", ACCOUNT, ENI_B, B, A, "8080", str(sport), "6", str(got), str(got_bytes), "ACCEPT", "OK"]
    assert traffic(b_lines) == sorted([in_b, out_b])
    for line in a_lines + b_lines:
        _, start, end = split(line)
        assert t0 <= start <= end <= window[1]
    assert_nodata(world.lines("fl-all", ENI_C)[0], ENI_C, window)
    # A REJECT-only flow log has nothing to say about accepted traffic (and the ENIs had traffic).
    assert world.lines("fl-v5-reject", ENI_A) == [] and world.lines("fl-v5-reject", ENI_B) == []


def test_tcp_flags_of_a_short_connection(world: World, collector: FlowLogCollector) -> None:
    collector.update(
        [world.topo.enis[n].info(VPC, ACCOUNT) for n in ("a", "b", "c")],
        [FlowLogSpec("fl-v5", "ALL", V5, (ENI_A, ENI_B), 60)],
        vpc_cidrs=("10.0.0.0/16",),
    )
    server = netns.socket_in(world.topo.enis["b"].namespace, (B, 8080))

    def exchange() -> None:
        client = socket.create_connection((B, 8080), timeout=2)
        peer, _ = server.accept()
        client.close()
        assert peer.recv(10) == b""
        peer.close()

    try:
        world.inside("a", exchange)
    finally:
        server.close()
    settle_and_flush(collector)
    flags = {
        (f[1], f[2]): (f[11], f[15])
        for f in (line.split() for line in world.lines("fl-v5", ENI_A) + world.lines("fl-v5", ENI_B))
    }
    # SYN+FIN from the client, SYN-ACK+FIN from the server, as in the AWS example; same-VPC path 1.
    assert flags == {
        (ENI_A, "egress"): ("3", "1"),
        (ENI_A, "ingress"): ("19", "-"),
        (ENI_B, "ingress"): ("3", "-"),
        (ENI_B, "egress"): ("19", "1"),
    }


def test_udp_exchange_exact_counts(world: World, collector: FlowLogCollector) -> None:
    server = netns.socket_in(world.topo.enis["b"].namespace, (B, 5353), kind=socket.SOCK_DGRAM)

    def exchange() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind((A, 0))
            for _ in range(3):
                client.sendto(b"u" * 100, (B, 5353))
            for _ in range(3):
                _, peer = server.recvfrom(200)
            for _ in range(2):
                server.sendto(b"d" * 50, peer)
            client.settimeout(1)
            assert [client.recv(100) for _ in range(2)] == [b"d" * 50] * 2
            return int(client.getsockname()[1])

    try:
        port = int(world.inside("a", exchange))  # type: ignore[call-overload]
    finally:
        server.close()
    window = settle_and_flush(collector)
    assert traffic(world.lines("fl-all", ENI_A)) == sorted(
        [
            ["2", ACCOUNT, ENI_A, A, B, str(port), "5353", "17", "3", "384", "ACCEPT", "OK"],
            ["2", ACCOUNT, ENI_A, B, A, "5353", str(port), "17", "2", "156", "ACCEPT", "OK"],
        ]
    )
    assert traffic(world.lines("fl-all", ENI_B)) == sorted(
        [
            ["2", ACCOUNT, ENI_B, A, B, str(port), "5353", "17", "3", "384", "ACCEPT", "OK"],
            ["2", ACCOUNT, ENI_B, B, A, "5353", str(port), "17", "2", "156", "ACCEPT", "OK"],
        ]
    )
    assert_nodata(world.lines("fl-all", ENI_C)[0], ENI_C, window)


def refused_syn(dst: str, port: int) -> int:
    """One SYN that gets no answer; closed before the kernel's first retransmission (1 s)."""
    with socket.socket() as sock:
        sock.bind((A, 0))
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.connect((dst, port))
        return int(sock.getsockname()[1])


def test_syn_refused_by_the_receivers_security_group(world: World, collector: FlowLogCollector) -> None:
    t0 = int(time.time())
    port = int(world.inside("a", lambda: refused_syn(B, 9090)))  # type: ignore[call-overload]
    window = settle_and_flush(collector)
    (reject,) = world.lines("fl-all", ENI_B)
    fields, start, end = split(reject)
    assert fields == ["2", ACCOUNT, ENI_B, A, B, str(port), "9090", "6", "1", "60", "REJECT", "OK"]
    assert t0 <= start == end <= window[1]
    # A's own security group let it out: A's log shows it accepted.
    (accepted,) = world.lines("fl-all", ENI_A)
    assert split(accepted)[0] == [
        "2",
        ACCOUNT,
        ENI_A,
        A,
        B,
        str(port),
        "9090",
        "6",
        "1",
        "60",
        "ACCEPT",
        "OK",
    ]
    assert world.lines("fl-v5-reject", ENI_B) == [
        f"5 {ENI_B} ingress REJECT {A} {B} {port} 9090 6 1 60 2 IPv4 {VPC} subnet-2 - OK"
    ]
    assert world.lines("fl-v5-reject", ENI_A) == []


def test_syn_refused_by_the_senders_security_group(world: World, collector: FlowLogCollector) -> None:
    port = int(world.inside("a", lambda: refused_syn(B, 7777)))  # type: ignore[call-overload]
    window = settle_and_flush(collector)
    (reject,) = world.lines("fl-all", ENI_A)
    assert split(reject)[0] == ["2", ACCOUNT, ENI_A, A, B, str(port), "7777", "6", "1", "60", "REJECT", "OK"]
    assert_nodata(world.lines("fl-all", ENI_B)[0], ENI_B, window)
    assert world.lines("fl-v5-reject", ENI_A) == [
        f"5 {ENI_A} egress REJECT {A} {B} {port} 7777 6 1 60 2 IPv4 {VPC} subnet-1 1 OK"
    ]


def test_icmp_request_accepted_and_reply_rejected_by_a_stateless_rule(
    world: World, collector: FlowLogCollector
) -> None:
    assert world.inside("a", lambda: echo_request(B, 4242)) is None
    settle_and_flush(collector)
    assert traffic(world.lines("fl-all", ENI_A)) == [
        ["2", ACCOUNT, ENI_A, A, B, "0", "0", "1", "1", "84", "ACCEPT", "OK"]
    ]
    # Conntrack counted the reply before the rule dropped it: it is a REJECT, not an ACCEPT.
    assert traffic(world.lines("fl-all", ENI_B)) == sorted(
        [
            ["2", ACCOUNT, ENI_B, A, B, "0", "0", "1", "1", "84", "ACCEPT", "OK"],
            ["2", ACCOUNT, ENI_B, B, A, "0", "0", "1", "1", "84", "REJECT", "OK"],
        ]
    )
    assert [line.split()[2:5] for line in world.lines("fl-v5-reject", ENI_B)] == [["egress", "REJECT", B]]


def test_traffic_to_router_local_services_is_never_recorded(
    world: World, collector: FlowLogCollector
) -> None:
    router = world.topo.router
    servers = [
        netns.socket_in(router, (address, 53), kind=socket.SOCK_DGRAM) for address in (RESOLVER, DNS_ALIAS)
    ]

    def queries() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for address, server in zip((RESOLVER, DNS_ALIAS), servers, strict=True):
                client.sendto(b"query", (address, 53))
                data, peer = server.recvfrom(100)
                assert data == b"query"
                server.sendto(b"answer", peer)
                client.settimeout(1)
                assert client.recv(100) == b"answer"
        # The subnet's router address answers pings itself.
        assert echo_request("10.0.1.1", 4343) is not None

    try:
        world.inside("a", queries)
    finally:
        for server in servers:
            server.close()
    window = settle_and_flush(collector)
    for eni_id in (ENI_A, ENI_B, ENI_C):
        (line,) = world.lines("fl-all", eni_id)
        assert_nodata(line, eni_id, window)


def test_the_ticker_closes_intervals_on_its_own(world: World) -> None:
    world.sent.clear()
    world.calls.clear()
    flows = FlowLogCollector(world.topo.router, world.sink, interval_s=60)
    flows.update([world.topo.enis["c"].info(VPC, ACCOUNT)], [FlowLogSpec("fl-c", "ALL", None, (ENI_C,), 1)])
    assert flows.window_s() == 1
    done = threading.Event()
    flows.start()
    try:
        done.wait(2.6)
    finally:
        flows.stop(flush=False)
    windows = [tuple(map(int, line.split()[10:12])) for line in world.lines("fl-c", ENI_C)]
    assert len(windows) == 2
    assert all(line.endswith("- NODATA") for line in world.lines("fl-c", ENI_C))
    assert windows[0][1] == windows[1][0]


def udp_client(world: World) -> socket.socket:
    with netns.entered(world.topo.enis["a"].namespace):
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((A, 0))
    return client


def test_a_flow_spanning_intervals_is_counted_per_interval(world: World, collector: FlowLogCollector) -> None:
    server = netns.socket_in(world.topo.enis["b"].namespace, (B, 5353), kind=socket.SOCK_DGRAM)
    client = udp_client(world)
    try:
        port = client.getsockname()[1]
        for _ in range(2):
            client.sendto(b"u" * 100, (B, 5353))
        settle_and_flush(collector)
        first = traffic(world.lines("fl-all", ENI_A))
        world.sent.clear()
        client.sendto(b"u" * 100, (B, 5353))
        _, peer = server.recvfrom(200)
        server.sendto(b"d" * 50, peer)
        settle_and_flush(collector)
        second = traffic(world.lines("fl-all", ENI_A))
    finally:
        client.close()
        server.close()
    assert first == [["2", ACCOUNT, ENI_A, A, B, str(port), "5353", "17", "2", "256", "ACCEPT", "OK"]]
    assert second == sorted(
        [
            ["2", ACCOUNT, ENI_A, A, B, str(port), "5353", "17", "1", "128", "ACCEPT", "OK"],
            ["2", ACCOUNT, ENI_A, B, A, "5353", str(port), "17", "1", "78", "ACCEPT", "OK"],
        ]
    )


def test_a_flow_that_ended_before_the_dump_still_counts(world: World, collector: FlowLogCollector) -> None:
    # A listener, so that B answers nothing (no ICMP port unreachable).
    server = netns.socket_in(world.topo.enis["b"].namespace, (B, 5353), kind=socket.SOCK_DGRAM)
    client = udp_client(world)
    try:
        port = client.getsockname()[1]
        for _ in range(3):
            client.sendto(b"u" * 100, (B, 5353))
        assert [len(server.recv(200)) for _ in range(3)] == [100] * 3
    finally:
        client.close()
        server.close()
    # The entry is gone before the interval closes: only its DESTROY event tells its counters.
    netns.run(world.topo.router, ["conntrack", "-D", "-p", "udp", "--orig-port-src", str(port)])
    assert (
        netns.run(world.topo.router, ["conntrack", "-L", "-p", "udp", "--orig-port-src", str(port)]).stdout
        == ""
    )
    settle_and_flush(collector)
    assert traffic(world.lines("fl-all", ENI_A)) == [
        ["2", ACCOUNT, ENI_A, A, B, str(port), "5353", "17", "3", "384", "ACCEPT", "OK"]
    ]
