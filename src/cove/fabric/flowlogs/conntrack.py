"""Accepted flows from the router's connection-tracking table, over ctnetlink.

Every packet the router forwards belongs to a conntrack entry; with `nf_conntrack_acct=1` and
`nf_conntrack_timestamp=1` (per-namespace sysctls, set when the entry is created) each entry
carries cumulative packet/byte counters per direction and its start time. Two sources:

* a dump of the table (`dump`), taken at every aggregation tick;
* DESTROY events (`open_events`, `read_destroyed`), which carry an entry's final counters, so a
  flow that ends between two dumps still counts its last packets.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from cove.fabric.flowlogs import netlink

__all__ = [
    "TCP_CLOSE_INIT",
    "CtEntry",
    "CtTuple",
    "dump",
    "open_dump_socket",
    "open_events",
    "parse_entry",
    "read_destroyed",
]

_SUBSYS_CT = 1
_MSG_NEW = _SUBSYS_CT << 8
_MSG_GET = (_SUBSYS_CT << 8) | 1
_MSG_DELETE = (_SUBSYS_CT << 8) | 2
_GROUP_DESTROY = 3

_CTA_TUPLE_ORIG = 1
_CTA_TUPLE_REPLY = 2
_CTA_PROTOINFO = 4
_CTA_COUNTERS_ORIG = 9
_CTA_COUNTERS_REPLY = 10
_CTA_ID = 12
_CTA_TIMESTAMP = 20
_TUPLE_IP = 1
_TUPLE_PROTO = 2
_IP_V4_SRC, _IP_V4_DST, _IP_V6_SRC, _IP_V6_DST = 1, 2, 3, 4
_PROTO_NUM, _PROTO_SRC_PORT, _PROTO_DST_PORT = 1, 2, 3
_COUNTERS_PACKETS, _COUNTERS_BYTES = 1, 2
_TIMESTAMP_START, _TIMESTAMP_STOP = 1, 2
_PROTOINFO_TCP = 1
_TCP_STATE, _TCP_FLAGS_ORIGINAL, _TCP_FLAGS_REPLY = 1, 4, 5

TCP_CLOSE_INIT = 0x04
"""`IP_CT_TCP_FLAG_CLOSE_INIT`: this direction sent the first FIN."""


@dataclass(frozen=True, slots=True)
class CtTuple:
    """One direction of an entry, as the packets of that direction carry it (ports 0 for ICMP)."""

    src: str
    dst: str
    sport: int
    dport: int
    protocol: int


@dataclass(frozen=True, slots=True)
class CtEntry:
    id: int
    orig: CtTuple
    reply: CtTuple
    orig_packets: int
    orig_bytes: int
    reply_packets: int
    reply_bytes: int
    start: float | None
    """Unix seconds the entry was confirmed (None without nf_conntrack_timestamp)."""
    stop: float | None
    tcp_state: int | None
    tcp_flags_orig: int = 0
    tcp_flags_reply: int = 0

    @property
    def key(self) -> tuple[int, CtTuple]:
        # Entry ids are hashes that a later entry may reuse; with the tuple they do not collide.
        return (self.id, self.orig)


def _u(data: bytes | None) -> int:
    return int.from_bytes(data, "big") if data else 0


def _tuple(data: bytes) -> CtTuple:
    attrs = netlink.attributes(data)
    ip = netlink.attributes(attrs.get(_TUPLE_IP, b""))
    proto = netlink.attributes(attrs.get(_TUPLE_PROTO, b""))
    if _IP_V4_SRC in ip:
        src = socket.inet_ntop(socket.AF_INET, ip[_IP_V4_SRC])
        dst = socket.inet_ntop(socket.AF_INET, ip[_IP_V4_DST])
    else:
        src = socket.inet_ntop(socket.AF_INET6, ip.get(_IP_V6_SRC, bytes(16)))
        dst = socket.inet_ntop(socket.AF_INET6, ip.get(_IP_V6_DST, bytes(16)))
    return CtTuple(
        src, dst, _u(proto.get(_PROTO_SRC_PORT)), _u(proto.get(_PROTO_DST_PORT)), _u(proto.get(_PROTO_NUM))
    )


def _counters(data: bytes | None) -> tuple[int, int]:
    attrs = netlink.attributes(data or b"")
    return _u(attrs.get(_COUNTERS_PACKETS)), _u(attrs.get(_COUNTERS_BYTES))


def parse_entry(message: netlink.Message) -> CtEntry | None:
    attrs = message.attrs
    if _CTA_TUPLE_ORIG not in attrs or _CTA_TUPLE_REPLY not in attrs:
        return None
    orig_packets, orig_bytes = _counters(attrs.get(_CTA_COUNTERS_ORIG))
    reply_packets, reply_bytes = _counters(attrs.get(_CTA_COUNTERS_REPLY))
    stamps = netlink.attributes(attrs.get(_CTA_TIMESTAMP, b""))
    start = _u(stamps.get(_TIMESTAMP_START)) / 1e9 or None
    stop = _u(stamps.get(_TIMESTAMP_STOP)) / 1e9 or None
    tcp = netlink.attributes(netlink.attributes(attrs.get(_CTA_PROTOINFO, b"")).get(_PROTOINFO_TCP, b""))
    state = tcp[_TCP_STATE][0] if _TCP_STATE in tcp else None
    return CtEntry(
        id=_u(attrs.get(_CTA_ID)),
        orig=_tuple(attrs[_CTA_TUPLE_ORIG]),
        reply=_tuple(attrs[_CTA_TUPLE_REPLY]),
        orig_packets=orig_packets,
        orig_bytes=orig_bytes,
        reply_packets=reply_packets,
        reply_bytes=reply_bytes,
        start=start,
        stop=stop,
        tcp_state=state,
        tcp_flags_orig=tcp.get(_TCP_FLAGS_ORIGINAL, b"\0")[0],
        tcp_flags_reply=tcp.get(_TCP_FLAGS_REPLY, b"\0")[0],
    )


def open_dump_socket(namespace: str | None) -> socket.socket:
    return netlink.open_socket(namespace)


def dump(sock: socket.socket) -> list[CtEntry]:
    """Every entry of the table the socket's namespace holds (IPv4 and IPv6)."""
    sock.send(netlink.request(_MSG_GET, netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP, socket.AF_UNSPEC, 0))
    entries: list[CtEntry] = []
    while True:
        for message in netlink.receive(sock):
            if message.kind == netlink.NLMSG_DONE:
                return entries
            if message.kind == _MSG_NEW:
                entry = parse_entry(message)
                if entry is not None:
                    entries.append(entry)


def open_events(namespace: str | None) -> socket.socket:
    """A socket that receives the namespace's DESTROY events (final counters of ended flows)."""
    return netlink.open_socket(namespace, groups=1 << (_GROUP_DESTROY - 1))


def read_destroyed(sock: socket.socket) -> list[CtEntry]:
    """The destroyed entries of one datagram."""
    return [
        entry
        for message in netlink.receive(sock)
        if message.kind == _MSG_DELETE and (entry := parse_entry(message)) is not None
    ]
