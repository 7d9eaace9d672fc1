"""Read the packets the router's drop rules log to an NFLOG group.

Every drop rule of the router's table is `log prefix "<component>|<layer>|<rule>" group N drop`;
the kernel hands each logged packet (prefix, in/out interface, the first bytes of the packet) to
the socket bound to group N in that namespace. A dropped packet never becomes a conntrack entry
(unconfirmed entries are discarded), so this is the only source of REJECT records.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

from cove.fabric.flowlogs import netlink

__all__ = [
    "LoggedPacket",
    "PacketHeader",
    "bind",
    "open_nflog",
    "parse_ip",
    "parse_logged",
    "read_logged",
]

_SUBSYS_ULOG = 4
_MSG_PACKET = _SUBSYS_ULOG << 8
_MSG_CONFIG = (_SUBSYS_ULOG << 8) | 1
_CFG_CMD = 1
_CFG_MODE = 2
_CFG_TIMEOUT = 3
_CFG_QTHRESH = 4
_CMD_BIND = 1
_COPY_PACKET = 2
_A_TIMESTAMP = 3
_A_INDEV = 4
_A_OUTDEV = 5
_A_PAYLOAD = 9
_A_PREFIX = 10
_PORTS = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class PacketHeader:
    """What a flow-log record needs from one IP packet."""

    version: int
    protocol: int
    src: str
    dst: str
    sport: int
    dport: int
    length: int
    """The IP datagram's total length (what conntrack counts as bytes)."""
    tcp_flags: int
    """The raw TCP flags byte (0 for other protocols)."""


@dataclass(frozen=True, slots=True)
class LoggedPacket:
    prefix: str
    indev: int
    outdev: int
    time: float
    """Unix seconds: the packet's kernel timestamp, or when it was read when it has none."""
    packet: PacketHeader


def parse_ip(data: bytes) -> PacketHeader | None:
    """IPv4 or IPv6 (no extension headers) with TCP/UDP ports; None for anything else or runts."""
    if not data:
        return None
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        header = (data[0] & 0x0F) * 4
        length = int.from_bytes(data[2:4], "big")
        protocol = data[9]
        src = socket.inet_ntop(socket.AF_INET, data[12:16])
        dst = socket.inet_ntop(socket.AF_INET, data[16:20])
        fragment = int.from_bytes(data[6:8], "big") & 0x1FFF
        transport = data[header:] if fragment == 0 else b""
    elif version == 6 and len(data) >= 40:
        length = 40 + int.from_bytes(data[4:6], "big")
        protocol = data[6]
        src = socket.inet_ntop(socket.AF_INET6, data[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, data[24:40])
        transport = data[40:]
    else:
        return None
    sport = dport = flags = 0
    if protocol in (6, 17, 132) and len(transport) >= 4:
        sport, dport = _PORTS.unpack_from(transport)
        if protocol == 6 and len(transport) >= 14:
            flags = transport[13]
    return PacketHeader(version, protocol, src, dst, sport, dport, length, flags)


def bind(sock: socket.socket, group: int, copy_range: int = 128) -> None:
    """Bind the socket to the group and ask for the packet's first `copy_range` bytes, each
    packet as soon as it is logged (the kernel otherwise batches up to 100 packets or 1 s, and an
    interval closed meanwhile would miss them)."""
    for payload in (
        netlink.attribute(_CFG_CMD, struct.pack("B", _CMD_BIND)),
        netlink.attribute(_CFG_MODE, struct.pack("!IBx", copy_range, _COPY_PACKET)),
        netlink.attribute(_CFG_QTHRESH, struct.pack("!I", 1))
        + netlink.attribute(_CFG_TIMEOUT, struct.pack("!I", 1)),
    ):
        sock.send(
            netlink.request(
                _MSG_CONFIG, netlink.NLM_F_REQUEST | netlink.NLM_F_ACK, socket.AF_UNSPEC, group, payload
            )
        )
        # The acknowledgement (or the error, e.g. EBUSY when someone else holds the group).
        for _ in netlink.receive(sock):
            pass


def open_nflog(namespace: str | None, group: int) -> socket.socket:
    sock = netlink.open_socket(namespace)
    try:
        bind(sock, group)
    except OSError:
        sock.close()
        raise
    return sock


def parse_logged(message: netlink.Message, received: float) -> LoggedPacket | None:
    attrs = message.attrs
    packet = parse_ip(attrs.get(_A_PAYLOAD, b""))
    if packet is None:
        return None
    stamp = attrs.get(_A_TIMESTAMP)
    when = received
    if stamp is not None and len(stamp) >= 16:
        seconds, micros = struct.unpack("!QQ", stamp[:16])
        if seconds:
            when = seconds + micros / 1e6
    return LoggedPacket(
        prefix=attrs.get(_A_PREFIX, b"").split(b"\0", 1)[0].decode(errors="replace"),
        indev=int.from_bytes(attrs.get(_A_INDEV, b"\0\0\0\0"), "big"),
        outdev=int.from_bytes(attrs.get(_A_OUTDEV, b"\0\0\0\0"), "big"),
        time=when,
        packet=packet,
    )


def read_logged(sock: socket.socket) -> list[LoggedPacket]:
    """The logged packets of one datagram from the socket."""
    received = time.time()
    found: list[LoggedPacket] = []
    for message in netlink.receive(sock):
        if message.kind == _MSG_PACKET:
            logged = parse_logged(message, received)
            if logged is not None:
                found.append(logged)
    return found
