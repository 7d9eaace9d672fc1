"""The Amazon DNS server of one VPC: A records from a table the server replaces while serving.

The server process opens the listening sockets inside the VPC's router namespace (VPC base + 2 and
169.254.169.253, port 53, UDP and TCP) and hands them here; a socket keeps its namespace, so one
thread in the server process answers every VPC without entering any namespace.

What it answers, as the Route 53 Resolver does for the names Cove knows: A queries for a known
name get its addresses (TTL 60); other types for a known name get NOERROR and no answer (the name
exists, there is no record of that type); unknown names get NXDOMAIN. A key `*.zone` matches any
name with one or more labels in front of `zone` (S3 virtual-host buckets); an exact key wins over
a wildcard and a longer wildcard over a shorter one. Packets that do not parse as queries are
dropped, as a resolver drops garbage. TCP carries each message behind a two-byte length.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dnslib import OPCODE, QTYPE, RCODE, RR, A, DNSRecord

__all__ = ["DNS_TTL", "DnsServer", "RecordTable"]

DNS_TTL = 60
_UDP_LIMIT = 512
"""Without EDNS a UDP answer is at most 512 bytes; a longer one goes back truncated (TC)."""
_MAX_UDP_PAYLOAD = 4096
_TCP_IDLE_S = 10.0
_MAX_TCP_CONNECTIONS = 64
_UDP_BURST = 64
"""Datagrams read per wake-up, so one busy socket cannot starve the others."""

_log = logging.getLogger(__name__)


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True, slots=True)
class RecordTable:
    """Names (lower case, no trailing dot) to IPv4 addresses; wildcards keyed by their zone."""

    exact: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    wildcard: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, records: Mapping[str, Sequence[str]]) -> RecordTable:
        exact: dict[str, tuple[str, ...]] = {}
        wildcard: dict[str, tuple[str, ...]] = {}
        for raw, addresses in records.items():
            name = _normalise(raw)
            if not name or name == "*":
                raise ValueError(f"{raw!r} is not a DNS name")
            # Validated now, so that a bad address fails the caller, not a query later.
            values = tuple(str(ipaddress.IPv4Address(a)) for a in addresses)
            if name.startswith("*."):
                wildcard[name[2:]] = values
            else:
                exact[name] = values
        return cls(exact, wildcard)

    def lookup(self, name: str) -> tuple[str, ...] | None:
        """The addresses of `name`, () for a name without addresses, None for an unknown name."""
        name = _normalise(name)
        found = self.exact.get(name)
        if found is not None:
            return found
        labels = name.split(".")
        for start in range(1, len(labels)):
            found = self.wildcard.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None


def _payload_limit(request: DNSRecord) -> int:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(_UDP_LIMIT, min(int(rr.rclass), _MAX_UDP_PAYLOAD))
    return _UDP_LIMIT


def answer(table: RecordTable, data: bytes, *, udp: bool) -> bytes | None:
    """The reply to one DNS message, or None when it is not a query worth answering."""
    try:
        request = DNSRecord.parse(data)
    except Exception:  # dnslib raises several types on garbage; none may reach the serving loop
        return None
    if request.header.qr:
        return None
    reply = request.reply(ra=1, aa=0)
    if request.header.opcode != OPCODE.QUERY:
        reply.header.rcode = RCODE.NOTIMP
    elif len(request.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
    else:
        question = request.q
        addresses = table.lookup(str(question.qname))
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif question.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=DNS_TTL))
    packed: bytes = reply.pack()
    if udp and len(packed) > _payload_limit(request):
        truncated = request.reply(ra=1, aa=0)
        truncated.header.tc = 1
        packed = truncated.pack()
    return packed


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class DnsServer:
    """Serves a replaceable record table on pre-bound UDP and listening TCP sockets.

    One selector thread reads every UDP socket and accepts TCP connections; each TCP connection
    gets a thread of its own (they are rare: long answers and zone-less clients). `stop()` ends
    every thread and closes every socket, the handed-over ones included.
    """

    def __init__(self, sockets: Sequence[socket.socket]) -> None:
        self._sockets = list(sockets)
        self._table = RecordTable()
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._closed = False

    @property
    def records(self) -> RecordTable:
        return self._table

    def set_records(self, records: Mapping[str, Sequence[str]]) -> None:
        """Replace the whole table; a query sees either the old or the new one, never a mix."""
        self._table = RecordTable.build(records)

    def lookup(self, name: str) -> tuple[str, ...] | None:
        return self._table.lookup(name)

    def start(self) -> None:
        if self._thread is not None or self._closed:
            raise RuntimeError("a DnsServer starts once")
        for sock in self._sockets:
            sock.setblocking(False)
        self._thread = threading.Thread(target=self._serve, name="cove-dns", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        os.write(self._wake_write, b"x")
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in connections.values():
            thread.join()
        for sock in self._sockets:
            sock.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_read, selectors.EVENT_READ)
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj == self._wake_read:
                        return
                    ready = key.fileobj
                    assert isinstance(ready, socket.socket)
                    if ready.type == socket.SOCK_DGRAM:
                        self._datagrams(ready)
                    else:
                        self._accept(ready)

    def _datagrams(self, sock: socket.socket) -> None:
        for _ in range(_UDP_BURST):
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                _log.debug("DNS UDP receive failed: %s", exc)
                return
            reply = answer(self._table, data, udp=True)
            if reply is not None:
                try:
                    sock.sendto(reply, peer)
                except OSError as exc:
                    _log.debug("DNS UDP reply to %s failed: %s", peer, exc)

    def _accept(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            _log.debug("DNS TCP accept failed: %s", exc)
            return
        with self._lock:
            if len(self._connections) >= _MAX_TCP_CONNECTIONS or self._stopping.is_set():
                conn.close()
                return
            thread = threading.Thread(target=self._converse, args=(conn,), name="cove-dns-tcp", daemon=True)
            self._connections[conn] = thread
        thread.start()

    def _converse(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(_TCP_IDLE_S)
            while not self._stopping.is_set():
                header = _recv_exact(conn, 2)
                if header is None:
                    break
                data = _recv_exact(conn, struct.unpack("!H", header)[0])
                if data is None:
                    break
                reply = answer(self._table, data, udp=False)
                if reply is None:
                    break  # garbage on a stream: the framing can no longer be trusted
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.pop(conn, None)
            conn.close()
