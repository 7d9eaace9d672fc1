"""The VPC's Amazon DNS server, answering over real sockets in namespaces.

A "router" namespace holds the server's sockets on 10.0.0.2 and 169.254.169.253 (loopback
addresses there); a "client" namespace, joined to it by a veth pair made inside the two
namespaces, sends the queries through the router as an ENI does.
"""

from __future__ import annotations

import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from cove.fabric import netns
from cove.fabric.dns import DNS_TTL, DnsServer, RecordTable
from tests.fabric.fabric_support import fabric_available

PREFIX = "cvtdns-"
RESOLVER = "10.0.0.2"
LINK_LOCAL = "169.254.169.253"
SAGEMAKER = "api.sagemaker.us-east-1.amazonaws.com"
S3_ADDRESS = "198.18.16.10"

RECORDS = {
    SAGEMAKER: ["198.18.64.10"],
    "s3.us-east-1.amazonaws.com": [S3_ADDRESS],
    "*.s3.us-east-1.amazonaws.com": [S3_ADDRESS],
    "*.example.s3.us-east-1.amazonaws.com": ["198.18.16.99"],
    "IP-10-0-1-5.EC2.Internal.": ["10.0.1.5"],
    "algo-1": ["10.0.1.7"],
    "many.internal": [f"10.0.9.{i}" for i in range(1, 41)],
}


def test_record_table_lookup() -> None:
    table = RecordTable.build(RECORDS)
    assert table.lookup("ip-10-0-1-5.ec2.internal") == ("10.0.1.5",)
    assert table.lookup("bucket.s3.us-east-1.amazonaws.com.") == (S3_ADDRESS,)
    assert table.lookup("a.b.s3.us-east-1.amazonaws.com") == (S3_ADDRESS,)
    # The longer wildcard wins; the exact name wins over both.
    assert table.lookup("x.example.s3.us-east-1.amazonaws.com") == ("198.18.16.99",)
    assert table.lookup("s3.us-east-1.amazonaws.com") == (S3_ADDRESS,)
    assert table.lookup("example.s3.us-east-1.amazonaws.com") == (S3_ADDRESS,)
    # A wildcard needs at least one label in front of its zone.
    assert RecordTable.build({"*.zone.test": ["10.0.0.9"]}).lookup("zone.test") is None
    assert table.lookup("s3.us-west-2.amazonaws.com") is None
    with pytest.raises(ValueError):
        RecordTable.build({"bad.test": ["10.0.0.300"]})
    with pytest.raises(ValueError):
        RecordTable.build({"v6.test": ["fd00::1"]})


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[str, str]]:
    tag = secrets.token_hex(2)
    router, client = f"{PREFIX}r{tag}", f"{PREFIX}c{tag}"
    try:
        netns.create(router)
        netns.create(client)
        for address in (RESOLVER, LINK_LOCAL):
            netns.run(router, ["ip", "addr", "add", f"{address}/32", "dev", "lo"])
        # Made inside the router namespace, the peer moved straight into the client's.
        netns.run(router, ["ip", "link", "add", "r0", "type", "veth", "peer", "name", "c0", "netns", client])
        netns.run(router, ["ip", "addr", "add", "10.0.1.1/24", "dev", "r0"])
        netns.run(router, ["ip", "link", "set", "r0", "up"])
        netns.run(client, ["ip", "addr", "add", "10.0.1.5/24", "dev", "c0"])
        netns.run(client, ["ip", "link", "set", "c0", "up"])
        netns.run(client, ["ip", "route", "add", "default", "via", "10.0.1.1"])
        yield router, client
    finally:
        netns.remove(client)
        netns.remove(router)
        assert not netns.exists(client) and not netns.exists(router)


@pytest.fixture
def server(lab: tuple[str, str]) -> Iterator[DnsServer]:
    router, _ = lab
    sockets = [
        netns.socket_in(router, (address, 53), kind=kind)
        for address in (RESOLVER, LINK_LOCAL)
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM)
    ]
    dns = DnsServer(sockets)
    dns.set_records(RECORDS)
    dns.start()
    try:
        yield dns
    finally:
        dns.stop()
    assert all(s.fileno() == -1 for s in sockets)


def _client_socket(ns: str, kind: int) -> socket.socket:
    with netns.entered(ns):
        sock = socket.socket(socket.AF_INET, kind)
    sock.settimeout(2.0)
    return sock


def _udp(ns: str, payload: bytes, server: str = RESOLVER) -> bytes:
    with _client_socket(ns, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, (server, 53))
        data, peer = sock.recvfrom(65535)
        assert peer == (server, 53)
        return data


def _framed(sock: socket.socket, payload: bytes) -> DNSRecord:
    sock.sendall(struct.pack("!H", len(payload)) + payload)
    size = struct.unpack("!H", _read(sock, 2))[0]
    return DNSRecord.parse(_read(sock, size))


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def query(ns: str, name: str, qtype: str = "A", *, server: str = RESOLVER) -> DNSRecord:
    request = DNSRecord.question(name, qtype)
    reply = DNSRecord.parse(_udp(ns, request.pack(), server))
    assert reply.header.id == request.header.id and reply.header.qr == 1
    assert str(reply.q.qname).lower() == name.lower().rstrip(".") + "."
    return reply


def addresses(reply: DNSRecord) -> list[str]:
    assert all(rr.rtype == QTYPE.A and rr.ttl == DNS_TTL for rr in reply.rr)
    return [str(rr.rdata) for rr in reply.rr]


@pytest.mark.root
@pytest.mark.skipif(not fabric_available(), reason="needs root and netns")
class TestServing:
    def test_a_answer_on_both_addresses(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        for address in (RESOLVER, LINK_LOCAL):
            reply = query(client, SAGEMAKER, server=address)
            assert reply.header.rcode == RCODE.NOERROR
            assert reply.header.ra == 1
            assert addresses(reply) == ["198.18.64.10"]
        assert addresses(query(client, "algo-1")) == ["10.0.1.7"]

    def test_unknown_name_is_nxdomain(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        for name in ("nothing.example.com", "s3.us-west-2.amazonaws.com", "algo-2"):
            reply = query(client, name)
            assert reply.header.rcode == RCODE.NXDOMAIN
            assert reply.rr == []
        assert query(client, "nothing.example.com", "AAAA").header.rcode == RCODE.NXDOMAIN

    def test_other_types_of_a_known_name_are_empty(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        for qtype in ("AAAA", "MX", "TXT"):
            reply = query(client, SAGEMAKER, qtype)
            assert reply.header.rcode == RCODE.NOERROR
            assert reply.rr == []

    def test_case_and_trailing_dot(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        for name in (
            "ip-10-0-1-5.ec2.internal",
            "IP-10-0-1-5.Ec2.INTERNAL.",
            "API.SageMaker.US-EAST-1.amazonaws.com",
        ):
            assert query(client, name).header.rcode == RCODE.NOERROR
        assert addresses(query(client, "Ip-10-0-1-5.ec2.internal.")) == ["10.0.1.5"]
        # The answer carries the name as it was asked.
        reply = query(client, "API.SageMaker.US-EAST-1.amazonaws.com")
        assert str(reply.rr[0].rname) == "API.SageMaker.US-EAST-1.amazonaws.com."

    def test_wildcard_buckets(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        assert addresses(query(client, "my-bucket.s3.us-east-1.amazonaws.com")) == [S3_ADDRESS]
        assert addresses(query(client, "a.b.c.s3.us-east-1.amazonaws.com")) == [S3_ADDRESS]
        assert addresses(query(client, "s3.us-east-1.amazonaws.com")) == [S3_ADDRESS]
        assert addresses(query(client, "x.example.s3.us-east-1.amazonaws.com")) == ["198.18.16.99"]
        assert query(client, "bucket.s3.eu-west-1.amazonaws.com").header.rcode == RCODE.NXDOMAIN

    def test_tcp_framing_and_truncation(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        many = [f"10.0.9.{i}" for i in range(1, 41)]
        # 40 answers do not fit 512 bytes: UDP says TC and carries none, TCP carries them all.
        truncated = query(client, "many.internal")
        assert truncated.header.tc == 1 and truncated.rr == []
        with _client_socket(client, socket.SOCK_STREAM) as sock:
            sock.connect((RESOLVER, 53))
            first = _framed(sock, DNSRecord.question("many.internal").pack())
            assert first.header.tc == 0 and addresses(first) == many
            # Several messages on one connection, each behind its length.
            second = _framed(sock, DNSRecord.question("my-bucket.s3.us-east-1.amazonaws.com").pack())
            assert addresses(second) == [S3_ADDRESS]
            third = _framed(sock, DNSRecord.question("missing.internal").pack())
            assert third.header.rcode == RCODE.NXDOMAIN
        # With EDNS0 announcing 4096 bytes, the long answer fits in UDP.
        request = DNSRecord.question("many.internal")
        request.add_ar(EDNS0(udp_len=4096))
        reply = DNSRecord.parse(_udp(client, request.pack()))
        assert reply.header.tc == 0 and addresses(reply) == many

    def test_malformed_packets_are_ignored(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        request = DNSRecord.question(SAGEMAKER)
        reply_packet = DNSRecord.parse(_udp(client, request.pack())).pack()
        with _client_socket(client, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            for garbage in (b"", b"\x00", b"\xff" * 40, request.pack()[:15], reply_packet):
                sock.sendto(garbage, (RESOLVER, 53))
                with pytest.raises(TimeoutError):
                    sock.recvfrom(65535)
        assert addresses(query(client, SAGEMAKER)) == ["198.18.64.10"]
        # Garbage on a TCP stream closes that connection, and only that one.
        with _client_socket(client, socket.SOCK_STREAM) as sock:
            sock.connect((RESOLVER, 53))
            sock.sendall(b"\x00\x05hello")
            assert sock.recv(10) == b""
        assert addresses(query(client, SAGEMAKER)) == ["198.18.64.10"]

    def test_replacement_while_serving(self, lab: tuple[str, str], server: DnsServer) -> None:
        _, client = lab
        old = {"svc.internal": ["10.0.2.1", "10.0.2.2"], "only-old.internal": ["10.0.2.3"]}
        new = {"svc.internal": ["10.0.3.1", "10.0.3.2"], "only-new.internal": ["10.0.3.3"]}
        server.set_records(old)
        seen: list[list[str]] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def ask() -> None:
            try:
                with _client_socket(client, socket.SOCK_DGRAM) as sock:
                    while not stop.is_set():
                        request = DNSRecord.question("svc.internal")
                        sock.sendto(request.pack(), (RESOLVER, 53))
                        reply = DNSRecord.parse(sock.recvfrom(65535)[0])
                        assert reply.header.rcode == RCODE.NOERROR
                        seen.append(addresses(reply))
            except BaseException as exc:
                failures.append(exc)

        asker = threading.Thread(target=ask)
        asker.start()
        for i in range(200):
            server.set_records(new if i % 2 else old)
            time.sleep(0.001)
        server.set_records(new)
        time.sleep(0.05)
        stop.set()
        asker.join()
        assert not failures, failures
        # Every answer is one whole table's, never a mix; both tables were served.
        assert {tuple(s) for s in seen} == {("10.0.2.1", "10.0.2.2"), ("10.0.3.1", "10.0.3.2")}
        assert query(client, "only-old.internal").header.rcode == RCODE.NXDOMAIN
        assert addresses(query(client, "only-new.internal")) == ["10.0.3.3"]
        assert query(client, SAGEMAKER).header.rcode == RCODE.NXDOMAIN

    def test_unprivileged_process_resolves(self, lab: tuple[str, str], server: DnsServer) -> None:
        """User code in an ENI namespace, without network capabilities, reaches the resolver."""
        _, client = lab
        request = DNSRecord.question("algo-1")
        script = (
            "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(2);"
            f"s.sendto(bytes.fromhex('{request.pack().hex()}'),('{LINK_LOCAL}',53));"
            "sys.stdout.write(s.recv(4096).hex())"
        )
        out = subprocess.run(
            netns.unprivileged(client, [sys.executable, "-c", script]),
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        assert addresses(DNSRecord.parse(bytes.fromhex(out.stdout))) == ["10.0.1.7"]

    def test_stop_ends_threads_and_closes_connections(self, lab: tuple[str, str]) -> None:
        router, client = lab
        sockets = [
            netns.socket_in(router, (RESOLVER, 53), kind=k) for k in (socket.SOCK_DGRAM, socket.SOCK_STREAM)
        ]
        before = {t.ident for t in threading.enumerate()}
        dns = DnsServer(sockets)
        dns.set_records({"a.internal": ["10.0.0.9"]})
        dns.start()
        with _client_socket(client, socket.SOCK_STREAM) as sock:
            sock.connect((RESOLVER, 53))
            assert addresses(_framed(sock, DNSRecord.question("a.internal").pack())) == ["10.0.0.9"]
            started = time.monotonic()
            dns.stop()
            assert time.monotonic() - started < 2.0
            # The open connection was closed by the server, not left to its idle timeout.
            assert sock.recv(10) == b""
        dns.stop()  # idempotent
        assert all(s.fileno() == -1 for s in sockets)
        assert {t.ident for t in threading.enumerate()} <= before
        with _client_socket(client, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            sock.sendto(DNSRecord.question("a.internal").pack(), (RESOLVER, 53))
            with pytest.raises(OSError):
                sock.recvfrom(65535)
