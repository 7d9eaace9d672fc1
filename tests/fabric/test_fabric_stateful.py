"""Stateful scenarios (reference §3.5 item 6): what a rule change does to connections already open.

AWS (§1.3): rule changes do not interrupt tracked connections; a network ACL cuts at once; a flow
admitted by a 0.0.0.0/0 TCP/UDP rule while the opposite direction allows everything to
0.0.0.0/0 is untracked, and removing its rule drops it immediately; ICMP is always tracked, and
so is anything through a NAT gateway. Each test opens a real connection from one ENI namespace
to a server in another (sockets the test process opens inside the namespaces), applies a changed
network through `Fabric.apply`, and looks at the next exchange on the open connection and at a
new connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cove.fabric import netns
from cove.fabric.kernel import Fabric
from cove.fabric.names import Names
from cove.netmodel import (
    Eni,
    EniKind,
    InternetGateway,
    NaclAction,
    NaclEntry,
    NatGateway,
    Network,
    NetworkAcl,
    Route,
    RouteTable,
    RouteTargetKind,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vpc,
    compile_network,
)
from tests.fabric.fabric_support import fabric_available, worker_tag

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

VPC = "vpc-st"
CLIENT = ("eni-stc", "10.9.1.10")
SERVER = ("eni-sts", "10.9.2.10")
PUBLIC = ("eni-stp", "10.9.0.20")
INTERNET_HOST = "203.0.113.9"
TCP_PORT, UDP_PORT, INTERNET_PORT = 8080, 5000, 9000
WAIT = 1.0
"""How long a reply may take before the exchange counts as cut."""

ALL_OUT = SecurityGroupRule(rule_id="sgr-all-out")
ALL_IN = SecurityGroupRule(rule_id="sgr-all-in")


@dataclass(frozen=True)
class Rules:
    """The security groups' rules (and the server subnet's extra ACL entries) of one state."""

    server_in: tuple[SecurityGroupRule, ...] = ()
    server_out: tuple[SecurityGroupRule, ...] = (ALL_OUT,)
    client_in: tuple[SecurityGroupRule, ...] = ()
    client_out: tuple[SecurityGroupRule, ...] = (ALL_OUT,)
    server_acl: tuple[NaclEntry, ...] = ()


def network(rules: Rules) -> Network:
    """10.9.0.0/24 public (NAT gateway, an ENI with a public IP), 10.9.1.0/24 the client's (default
    route to the NAT gateway), 10.9.2.0/24 the server's (optionally under its own ACL)."""
    acls = [NetworkAcl.allow_all("acl-st-default", VPC)]
    if rules.server_acl:
        allow = (NaclEntry(500, False, NaclAction.ALLOW), NaclEntry(500, True, NaclAction.ALLOW))
        acls.append(
            NetworkAcl("acl-st-server", VPC, entries=rules.server_acl + allow, subnet_ids=("subnet-sts",))
        )
    return Network(
        vpcs=[Vpc(VPC, ("10.9.0.0/16",))],
        subnets=[
            Subnet("subnet-stp", VPC, "10.9.0.0/24"),
            Subnet("subnet-stc", VPC, "10.9.1.0/24"),
            Subnet("subnet-sts", VPC, "10.9.2.0/24"),
        ],
        route_tables=[
            RouteTable("rtb-st-main", VPC, main=True),
            RouteTable(
                "rtb-st-pub",
                VPC,
                routes=(Route("0.0.0.0/0", RouteTargetKind.IGW, "igw-st"),),
                subnet_ids=("subnet-stp",),
            ),
            RouteTable(
                "rtb-st-priv",
                VPC,
                routes=(Route("0.0.0.0/0", RouteTargetKind.NAT, "nat-st"),),
                subnet_ids=("subnet-stc",),
            ),
        ],
        network_acls=acls,
        security_groups=[
            SecurityGroup("sg-stc", VPC, "client", rules.client_in, rules.client_out),
            SecurityGroup("sg-sts", VPC, "server", rules.server_in, rules.server_out),
        ],
        enis=[
            Eni(CLIENT[0], "subnet-stc", (CLIENT[1],), ("sg-stc",)),
            Eni(SERVER[0], "subnet-sts", (SERVER[1],), ("sg-sts",)),
            Eni(PUBLIC[0], "subnet-stp", (PUBLIC[1],), ("sg-stc",), public_ip="198.19.9.20"),
            Eni("eni-stnat", "subnet-stp", ("10.9.0.10",), kind=EniKind.NAT_GATEWAY),
        ],
        internet_gateways=[InternetGateway("igw-st", VPC)],
        nat_gateways=[NatGateway("nat-st", "subnet-stp", "eni-stnat", elastic_ip="198.19.9.10")],
    )


class EchoServer:
    """TCP and UDP echo on sockets that live in a namespace, served by this process's threads."""

    def __init__(self, namespace: str, tcp: int, udp: int | None = None) -> None:
        self._stop = threading.Event()
        self._sockets = [netns.socket_in(namespace, ("0.0.0.0", tcp))]
        self._threads = [threading.Thread(target=self._accept, args=(self._sockets[0],), daemon=True)]
        if udp is not None:
            datagrams = netns.socket_in(namespace, ("0.0.0.0", udp), kind=socket.SOCK_DGRAM)
            self._sockets.append(datagrams)
            self._threads.append(threading.Thread(target=self._udp, args=(datagrams,), daemon=True))
        for sock in self._sockets:
            sock.settimeout(0.2)
        for thread in self._threads:
            thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(0.2)
            thread = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(1024)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def _udp(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data, peer = sock.recvfrom(1024)
                sock.sendto(data, peer)
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for sock in self._sockets:
            sock.close()


@dataclass
class Lab:
    fabric: Fabric

    def apply(self, rules: Rules) -> None:
        self.fabric.apply(compile_network(network(rules)))

    def ns(self, eni_id: str) -> str:
        return self.fabric.names.eni(eni_id)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fabric = Fabric(Names(worker_tag("tsf")))
    fabric.teardown()
    servers: list[EchoServer] = []
    try:
        fabric.apply(compile_network(network(Rules())))
        servers.append(EchoServer(fabric.names.eni(SERVER[0]), TCP_PORT, UDP_PORT))
        servers.append(EchoServer(fabric.names.internet(), INTERNET_PORT))
        yield Lab(fabric)
    finally:
        for server in servers:
            server.close()
        fabric.teardown()
    assert fabric.owned() == []


@contextlib.contextmanager
def connection(
    namespace: str, address: str, port: int, kind: int = socket.SOCK_STREAM
) -> Iterator[socket.socket]:
    with netns.entered(namespace):
        sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.settimeout(WAIT)
        sock.connect((address, port))
        yield sock
    finally:
        sock.close()


def echoes(sock: socket.socket, payload: bytes) -> bool:
    """Send on the open connection; True when the same bytes come back within `WAIT`."""
    sock.sendall(payload)
    try:
        return sock.recv(1024) == payload
    except TimeoutError:
        return False


def connects(namespace: str, address: str, port: int) -> bool:
    try:
        with connection(namespace, address, port) as sock:
            return echoes(sock, b"new")
    except (TimeoutError, ConnectionRefusedError):
        return False


def tcp_from(cidr: str, port: int = TCP_PORT) -> SecurityGroupRule:
    return SecurityGroupRule("tcp", (port, port), cidr, rule_id=f"sgr-tcp-{port}-{cidr}")


def test_rule_removal_keeps_a_tracked_connection(lab: Lab) -> None:
    """Admitted by a rule for the client's subnet: tracked, so it lives on; a new one does not."""
    lab.apply(Rules(server_in=(tcp_from("10.9.1.0/24"),)))
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before")
        lab.apply(Rules())
        assert echoes(sock, b"after"), "a tracked connection must survive the removal of its rule"
    assert not connects(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT)


def test_anywhere_rule_without_all_open_response_direction_is_tracked(lab: Lab) -> None:
    """0.0.0.0/0 admits the flow, but the server's outbound rules are not all-open: tracked."""
    narrow_out = (SecurityGroupRule("tcp", (443, 443), "10.0.0.0/8", rule_id="sgr-443-out"),)
    lab.apply(Rules(server_in=(tcp_from("0.0.0.0/0"),), server_out=narrow_out))
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before")
        lab.apply(Rules(server_out=narrow_out))
        assert echoes(sock, b"after")


def test_rule_removal_cuts_an_untracked_tcp_flow(lab: Lab) -> None:
    """0.0.0.0/0 in and everything out at the server: untracked, so the removal cuts it at once."""
    lab.apply(Rules(server_in=(tcp_from("0.0.0.0/0"),)))
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before")
        # Another rule still admits the flow: untracked packets are judged by the rules, so it goes on.
        lab.apply(Rules(server_in=(tcp_from("0.0.0.0/0"), tcp_from("10.9.1.10/32"))))
        lab.apply(Rules(server_in=(tcp_from("10.9.1.10/32"),)))
        assert echoes(sock, b"still")
        lab.apply(Rules(server_in=(tcp_from("0.0.0.0/0"),)))
        lab.apply(Rules(server_in=(tcp_from("0.0.0.0/0", port=8081),)))
        assert not echoes(sock, b"after"), "an untracked flow must stop when its rule goes"


def test_rule_removal_cuts_an_untracked_udp_flow(lab: Lab) -> None:
    lab.apply(Rules(server_in=(SecurityGroupRule("udp", (UDP_PORT, UDP_PORT), "0.0.0.0/0", rule_id="u"),)))
    with connection(lab.ns(CLIENT[0]), SERVER[1], UDP_PORT, socket.SOCK_DGRAM) as sock:
        assert echoes(sock, b"before")
        lab.apply(Rules())
        assert not echoes(sock, b"after")


def test_icmp_is_always_tracked(lab: Lab) -> None:
    """Echo requests on one ping socket share an identifier: one tracked ICMP flow."""
    lab.apply(Rules(server_in=(SecurityGroupRule("icmp", None, "0.0.0.0/0", rule_id="p"),)))

    def ping(sock: socket.socket, sequence: int) -> bool:
        sock.send(struct.pack("!BBHHH", 8, 0, 0, 0, sequence) + b"stateful")
        try:
            return sock.recv(1024)[0] == 0
        except TimeoutError:
            return False

    with netns.entered(lab.ns(CLIENT[0])):
        pinger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        fresh = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    with pinger, fresh:
        for sock in (pinger, fresh):
            sock.settimeout(WAIT)
            sock.connect((SERVER[1], 0))
        assert ping(pinger, 1)
        lab.apply(Rules())
        assert ping(pinger, 2), "ICMP is tracked: the ongoing echo flow survives"
        assert not ping(fresh, 1), "a new echo flow has no rule"


def test_nacl_deny_cuts_an_established_connection(lab: Lab) -> None:
    lab.apply(Rules(server_in=(tcp_from("10.9.1.0/24"),)))
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before")
        deny = (NaclEntry(10, False, NaclAction.DENY, "tcp", "10.9.1.0/24", (TCP_PORT, TCP_PORT)),)
        lab.apply(Rules(server_in=(tcp_from("10.9.1.0/24"),), server_acl=deny))
        assert not echoes(sock, b"after"), "a network ACL is stateless: it cuts at once"


def test_nacl_deny_of_the_replies_cuts_an_established_connection(lab: Lab) -> None:
    """Both directions of the flow have passed the NACLs (the router remembers that in the flow's
    conntrack mark): an outbound entry of the server's subnet that drops the replies still cuts it."""
    lab.apply(Rules(server_in=(tcp_from("10.9.1.0/24"),)))
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before") and echoes(sock, b"again")
        deny = (NaclEntry(10, True, NaclAction.DENY, "tcp", "10.9.1.0/24", (1024, 65535)),)
        lab.apply(Rules(server_in=(tcp_from("10.9.1.0/24"),), server_acl=deny))
        assert not echoes(sock, b"after"), "the replies meet the new outbound entry"


def test_nacl_flap_cuts_then_lets_the_same_connection_go_on(lab: Lab) -> None:
    """Stateless both ways: the deny cuts the open connection; once the ACL is as before, the same
    connection carries on (the data held back is retransmitted) without a new handshake."""
    rules = Rules(server_in=(tcp_from("10.9.1.0/24"),))
    lab.apply(rules)
    with connection(lab.ns(CLIENT[0]), SERVER[1], TCP_PORT) as sock:
        assert echoes(sock, b"before")
        deny = (NaclEntry(10, False, NaclAction.DENY, "tcp", "10.9.1.0/24", (TCP_PORT, TCP_PORT)),)
        lab.apply(Rules(server_in=rules.server_in, server_acl=deny))
        assert not echoes(sock, b"held")
        lab.apply(rules)
        sock.settimeout(4 * WAIT)  # until the next retransmission of "held"
        received = b""
        with contextlib.suppress(TimeoutError):
            while len(received) < len(b"held") and (chunk := sock.recv(1024)):
                received += chunk
        assert received == b"held"
        sock.settimeout(WAIT)
        assert echoes(sock, b"after")
        lab.apply(Rules(server_in=rules.server_in, server_acl=deny))
        assert not echoes(sock, b"cut again")


def test_nat_gateway_flows_are_tracked_internet_gateway_flows_are_not(lab: Lab) -> None:
    """The same all-open rules at two ENIs: through the NAT gateway the flow is tracked and
    survives; through the internet gateway (public IP) it is untracked and is cut."""
    out = (tcp_from("0.0.0.0/0", port=INTERNET_PORT),)
    lab.apply(Rules(client_in=(ALL_IN,), client_out=out))
    with (
        connection(lab.ns(CLIENT[0]), INTERNET_HOST, INTERNET_PORT) as natted,
        connection(lab.ns(PUBLIC[0]), INTERNET_HOST, INTERNET_PORT) as public,
    ):
        assert echoes(natted, b"before") and echoes(public, b"before")
        lab.apply(Rules(client_in=(ALL_IN,), client_out=()))
        assert echoes(natted, b"after"), "NAT gateway flows are always tracked"
        assert not echoes(public, b"after"), "the untracked flow through the internet gateway must stop"
