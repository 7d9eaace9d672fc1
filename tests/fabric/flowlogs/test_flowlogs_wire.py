"""The netlink messages and IP headers the collector decodes, built byte by byte (no kernel)."""

from __future__ import annotations

import socket
import struct

import pytest

from cove.fabric.flowlogs import conntrack, netlink, nflog


def ipv4(proto: int, src: str, dst: str, transport: bytes, total: int | None = None) -> bytes:
    length = total if total is not None else 20 + len(transport)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 1, 0, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return header + transport


def tcp_header(sport: int, dport: int, flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 65535, 0, 0)


def test_parse_ipv4_tcp_udp_icmp() -> None:
    syn = nflog.parse_ip(ipv4(6, "10.0.1.10", "10.0.2.20", tcp_header(40000, 8080, 0x02), total=60))
    assert syn == nflog.PacketHeader(4, 6, "10.0.1.10", "10.0.2.20", 40000, 8080, 60, 0x02)
    udp = nflog.parse_ip(ipv4(17, "10.0.1.10", "10.0.2.20", struct.pack("!HHHH", 5000, 53, 12, 0) + b"abcd"))
    assert udp is not None and (udp.sport, udp.dport, udp.length, udp.tcp_flags) == (5000, 53, 32, 0)
    ping = nflog.parse_ip(ipv4(1, "10.0.1.10", "10.0.2.20", struct.pack("!BBHHH", 8, 0, 0, 77, 1)))
    assert ping is not None and (ping.protocol, ping.sport, ping.dport) == (1, 0, 0)
    assert nflog.parse_ip(b"\x45\x00") is None


def test_parse_ipv6_tcp() -> None:
    src, dst = "2001:db8::1", "2001:db8::2"
    transport = tcp_header(34892, 22, 0x12)
    header = struct.pack("!IHBB", 6 << 28, len(transport), 6, 64)
    packet = (
        header + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + transport
    )
    parsed = nflog.parse_ip(packet)
    assert parsed == nflog.PacketHeader(6, 6, src, dst, 34892, 22, 60, 0x12)


def nfnl(kind: int, payload: bytes, family: int = socket.AF_INET) -> bytes:
    return netlink.request(kind, 0, family, 100, payload)


def test_nflog_packet_message() -> None:
    payload = ipv4(6, "10.0.1.10", "10.0.2.20", tcp_header(40000, 9090, 0x02), total=60)
    attrs = b"".join(
        (
            netlink.attribute(10, b"eni-b|sg-ingress|implicit\0"),
            netlink.attribute(4, struct.pack("!I", 2)),
            netlink.attribute(5, struct.pack("!I", 3)),
            netlink.attribute(3, struct.pack("!QQ", 1_700_000_000, 250_000)),
            netlink.attribute(9, payload),
        )
    )
    (message,) = netlink.messages(nfnl(4 << 8, attrs))
    logged = nflog.parse_logged(message, received=5.0)
    assert logged is not None
    assert (logged.prefix, logged.indev, logged.outdev, logged.time) == (
        "eni-b|sg-ingress|implicit",
        2,
        3,
        1_700_000_000.25,
    )
    assert logged.packet.dport == 9090
    # No kernel timestamp (forwarded packets often have none): the time it was read.
    (bare,) = netlink.messages(nfnl(4 << 8, netlink.attribute(9, payload)))
    logged = nflog.parse_logged(bare, received=5.0)
    assert logged is not None and (logged.prefix, logged.time) == ("", 5.0)


def nested(kind: int, *parts: bytes) -> bytes:
    return netlink.attribute(kind | 0x8000, b"".join(parts))


def ct_tuple(kind: int, src: str, dst: str, sport: int, dport: int, proto: int) -> bytes:
    return nested(
        kind,
        nested(1, netlink.attribute(1, socket.inet_aton(src)), netlink.attribute(2, socket.inet_aton(dst))),
        nested(
            2,
            netlink.attribute(1, bytes([proto])),
            netlink.attribute(2, struct.pack("!H", sport)),
            netlink.attribute(3, struct.pack("!H", dport)),
        ),
    )


def test_conntrack_entry_message() -> None:
    attrs = b"".join(
        (
            ct_tuple(1, "10.0.1.10", "10.0.2.20", 40000, 8080, 6),
            ct_tuple(2, "10.0.2.20", "10.0.1.10", 8080, 40000, 6),
            nested(4, nested(1, netlink.attribute(1, bytes([7])), netlink.attribute(4, bytes([0x27, 0])))),
            nested(
                9, netlink.attribute(1, struct.pack("!Q", 6)), netlink.attribute(2, struct.pack("!Q", 420))
            ),
            nested(
                10, netlink.attribute(1, struct.pack("!Q", 4)), netlink.attribute(2, struct.pack("!Q", 266))
            ),
            netlink.attribute(12, struct.pack("!I", 4090512148)),
            nested(20, netlink.attribute(1, struct.pack("!Q", 1_700_000_000_500_000_000))),
        )
    )
    (message,) = netlink.messages(nfnl(1 << 8, attrs))
    entry = conntrack.parse_entry(message)
    assert entry == conntrack.CtEntry(
        id=4090512148,
        orig=conntrack.CtTuple("10.0.1.10", "10.0.2.20", 40000, 8080, 6),
        reply=conntrack.CtTuple("10.0.2.20", "10.0.1.10", 8080, 40000, 6),
        orig_packets=6,
        orig_bytes=420,
        reply_packets=4,
        reply_bytes=266,
        start=1_700_000_000.5,
        stop=None,
        tcp_state=7,
        tcp_flags_orig=0x27,
        tcp_flags_reply=0,
    )


def test_netlink_error_is_raised() -> None:
    error = struct.pack("=IHHII", 36, netlink.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -16) + bytes(16)
    with pytest.raises(OSError, match="EBUSY"):
        list(netlink.messages(error))
    ack = struct.pack("=IHHII", 36, netlink.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", 0) + bytes(16)
    assert list(netlink.messages(ack)) == []
