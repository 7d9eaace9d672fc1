"""Just enough nfnetlink to talk to NFLOG and ctnetlink without a dependency.

A netlink socket keeps the network namespace it was created in, so `open_socket` creates it from a
thread that has entered the router namespace and hands it back to any thread.
"""

from __future__ import annotations

import errno
import itertools
import socket
import struct
from collections.abc import Iterator

from cove.fabric import netns

__all__ = [
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_REQUEST",
    "Attributes",
    "Message",
    "attribute",
    "attributes",
    "messages",
    "open_socket",
    "receive",
    "request",
]

NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
_NLA_TYPE_MASK = 0x3FFF
_HEADER = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")
_BUFFER = 1 << 16
_sequence = itertools.count(1)

Attributes = dict[int, bytes]
"""Attribute type (flags stripped) → payload; repeated attributes keep the last one."""


class Message:
    """One nfnetlink message: netlink type (subsystem << 8 | message), nfgenmsg and attributes."""

    __slots__ = ("attrs", "family", "flags", "kind", "res_id")

    def __init__(self, kind: int, flags: int, family: int, res_id: int, attrs: Attributes) -> None:
        self.kind = kind
        self.flags = flags
        self.family = family
        self.res_id = res_id
        self.attrs = attrs


def _align(length: int) -> int:
    return (length + 3) & ~3


def attribute(kind: int, payload: bytes) -> bytes:
    length = _NLA.size + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def attributes(data: bytes | memoryview) -> Attributes:
    found: Attributes = {}
    view = memoryview(data)
    offset = 0
    while offset + _NLA.size <= len(view):
        length, kind = _NLA.unpack_from(view, offset)
        if length < _NLA.size:
            break
        found[kind & _NLA_TYPE_MASK] = bytes(view[offset + _NLA.size : offset + length])
        offset += _align(length)
    return found


def messages(data: bytes) -> Iterator[Message]:
    """The nfnetlink messages in one datagram; NLMSG_ERROR with an error raises OSError."""
    view = memoryview(data)
    offset = 0
    while offset + _HEADER.size <= len(view):
        length, kind, flags, _seq, _pid = _HEADER.unpack_from(view, offset)
        if length < _HEADER.size:
            break
        body = view[offset + _HEADER.size : offset + length]
        offset += _align(length)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", body)
            if code:
                raise OSError(-code, f"netlink: {errno.errorcode.get(-code, -code)}")
            continue
        if kind == NLMSG_DONE or len(body) < _NFGEN.size:
            yield Message(kind, flags, 0, 0, {})
            continue
        family, _version, res_id = _NFGEN.unpack_from(body)
        yield Message(kind, flags, family, socket.ntohs(res_id), attributes(body[_NFGEN.size :]))


def request(kind: int, flags: int, family: int, res_id: int, payload: bytes = b"") -> bytes:
    body = _NFGEN.pack(family, 0, socket.htons(res_id)) + payload
    return _HEADER.pack(_HEADER.size + len(body), kind, flags, next(_sequence), 0) + body


def open_socket(namespace: str | None, groups: int = 0) -> socket.socket:
    """A NETLINK_NETFILTER socket living in `namespace` (None: this thread's namespace)."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((0, groups))
        except OSError:
            sock.close()
            raise
        return sock

    if namespace is None:
        return make()
    with netns.entered(namespace):
        return make()


def receive(sock: socket.socket) -> Iterator[Message]:
    """Every message of one datagram (blocking or not, as the socket is)."""
    yield from messages(sock.recv(_BUFFER))
