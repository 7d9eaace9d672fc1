"""Per-ENI attribution of conntrack deltas and logged drops, with synthetic inputs (no kernel)."""

from __future__ import annotations

from cove.fabric.flowlogs import EniInfo, LogFormat
from cove.fabric.flowlogs.attribution import attribute, merge
from cove.fabric.flowlogs.conntrack import CtEntry, CtTuple
from cove.fabric.flowlogs.inventory import Inventory
from cove.fabric.flowlogs.ledger import FlowDelta
from cove.fabric.flowlogs.nflog import LoggedPacket, PacketHeader

A = EniInfo(
    "eni-a", "10.0.1.10", ("10.0.1.10/32", "10.0.1.11/32"), "va", "subnet-1", "vpc-1", "i-a", "111122223333"
)
B = EniInfo("eni-b", "10.0.2.20", ("10.0.2.20/32",), "vb", "subnet-2", "vpc-1", None, "111122223333")


def inventory(*enis: EniInfo, exempt: tuple[str, ...] = ()) -> Inventory:
    return Inventory.build(
        enis or (A, B), vpc_cidrs=("10.0.0.0/16",), aws_services={"198.18.0.0/24": "S3"}, exempt=exempt
    )


def entry(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    proto: int,
    counts: tuple[int, int, int, int],
    start: float | None = None,
) -> CtEntry:
    return CtEntry(
        id=7,
        orig=CtTuple(src, dst, sport, dport, proto),
        reply=CtTuple(dst, src, dport, sport, proto),
        orig_packets=counts[0],
        orig_bytes=counts[1],
        reply_packets=counts[2],
        reply_bytes=counts[3],
        start=start,
        stop=None,
        tcp_state=None,
    )


def delta(e: CtEntry, first: float | None = None, flags: tuple[int, int] = (0, 0)) -> FlowDelta:
    return FlowDelta(e, e.orig_packets, e.orig_bytes, e.reply_packets, e.reply_bytes, first, None, *flags)


def dropped(prefix: str, src: str, dst: str, sport: int, dport: int, proto: int, size: int, when: float, flags: int = 0,
            indev: int = 0, outdev: int = 0) -> LoggedPacket:  # fmt: skip
    return LoggedPacket(
        prefix, indev, outdev, when, PacketHeader(4, proto, src, dst, sport, dport, size, flags)
    )


def lines(records: list, enis: tuple[EniInfo, ...] = (A, B), fmt: str | None = None) -> list[str]:  # type: ignore[type-arg]
    by_id = {e.eni_id: e for e in enis}
    f = LogFormat(fmt)
    return [f.line(r, by_id[r.eni_id]) for r in records]


def test_flow_between_two_enis_is_recorded_on_both_in_both_directions() -> None:
    e = entry("10.0.1.10", "10.0.2.20", 40000, 8080, 6, (6, 420, 4, 266), start=1005.2)
    records = merge(attribute(inventory(), [delta(e, 1005.2, (3, 19))], [], (1000.0, 1060.0)))
    fmt = "${interface-id} ${flow-direction} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${packets} ${bytes} ${start} ${end} ${tcp-flags} ${traffic-path}"
    assert sorted(lines(records, fmt=fmt)) == [
        "eni-a egress 10.0.1.10 10.0.2.20 40000 8080 6 420 1005 1060 3 1",
        "eni-a ingress 10.0.2.20 10.0.1.10 8080 40000 4 266 1005 1060 19 -",
        "eni-b egress 10.0.2.20 10.0.1.10 8080 40000 4 266 1005 1060 19 1",
        "eni-b ingress 10.0.1.10 10.0.2.20 40000 8080 6 420 1005 1060 3 -",
    ]


def test_flow_to_the_outside_is_recorded_on_the_eni_only() -> None:
    e = entry("10.0.1.10", "198.18.0.5", 40000, 443, 6, (3, 180, 2, 120))
    records = merge(attribute(inventory(), [delta(e)], [], (1000.0, 1060.0)))
    fmt = "${interface-id} ${flow-direction} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${start} ${traffic-path}"
    assert lines(records, fmt=fmt) == [
        "eni-a egress 10.0.1.10 198.18.0.5 - S3 1000 -",
        "eni-a ingress 198.18.0.5 10.0.1.10 S3 - 1000 -",
    ]


def test_traffic_to_exempt_and_link_local_addresses_is_never_recorded() -> None:
    resolver = entry("10.0.1.10", "10.0.0.2", 40000, 53, 17, (1, 60, 1, 120))
    imds = entry("10.0.1.10", "169.254.169.254", 40001, 80, 6, (5, 300, 4, 900))
    refused = dropped("eni-a|sg-egress|implicit", "10.0.1.10", "10.0.0.2", 40002, 53, 17, 60, 1001.0)
    assert (
        attribute(
            inventory(exempt=("10.0.0.2",)), [delta(resolver), delta(imds)], [refused], (1000.0, 1060.0)
        )
        == []
    )


def test_aws_icmp_example_request_accept_and_response_reject() -> None:
    """The user guide's example: SG allows inbound ICMP, the NACL denies outbound ICMP. Conntrack
    counted the four replies before the NACL dropped them; they are REJECT only."""
    me = EniInfo(
        "eni-1235b8ca123456789",
        "172.31.16.139",
        ("172.31.16.139",),
        "vx",
        "subnet-1",
        "vpc-1",
        None,
        "123456789010",
    )
    e = entry("203.0.113.12", "172.31.16.139", 0, 0, 1, (4, 336, 4, 336), start=1432917027.4)
    replies = [
        dropped("acl-1|nacl-outbound|100", "172.31.16.139", "203.0.113.12", 0, 0, 1, 84, t)
        for t in (1432917094.1, 1432917110.0, 1432917125.0, 1432917142.9)
    ]
    records = merge(
        attribute(inventory(me), [delta(e, 1432917027.4)], replies, (1432917000.0, 1432917142.95))
    )
    assert lines(records, (me,)) == [
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
    ]


def test_security_group_drops_belong_to_the_eni_named_in_the_prefix() -> None:
    syn = dropped(
        "eni-b|sg-ingress|implicit", "10.0.1.10", "10.0.2.20", 40000, 9090, 6, 60, 1001.0, flags=0x02
    )
    out = dropped(
        "eni-a|sg-egress|implicit", "10.0.1.10", "10.0.2.20", 40001, 7777, 6, 60, 1002.0, flags=0x02
    )
    records = merge(attribute(inventory(), [], [syn, out], (1000.0, 1060.0)))
    fmt = "${interface-id} ${flow-direction} ${action} ${srcaddr} ${dstaddr} ${dstport} ${packets} ${bytes} ${tcp-flags}"
    assert lines(records, fmt=fmt) == [
        # B's security group refused it; A's had let it out, so A's own log shows it accepted.
        "eni-a egress ACCEPT 10.0.1.10 10.0.2.20 9090 1 60 2",
        "eni-b ingress REJECT 10.0.1.10 10.0.2.20 9090 1 60 2",
        "eni-a egress REJECT 10.0.1.10 10.0.2.20 7777 1 60 2",
    ]


def test_nacl_drops_belong_to_the_sender_outbound_and_the_receiver_inbound() -> None:
    out = dropped("acl-1|nacl-outbound|*", "10.0.1.11", "10.0.2.20", 40000, 22, 6, 60, 1001.0)
    inbound = dropped(
        "acl-2|nacl-inbound|100", "203.0.113.9", "10.0.2.99", 40001, 22, 6, 60, 1002.0, outdev=5
    )
    records = merge(attribute(inventory(), [], [out, inbound], (1000.0, 1060.0), interface_names={5: "vb"}))
    fmt = "${interface-id} ${flow-direction} ${action} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}"
    assert lines(records, fmt=fmt) == [
        "eni-a egress REJECT 10.0.1.10 10.0.2.20 10.0.1.11 10.0.2.20",
        # Not an address of B, but it left through B's interface.
        "eni-b ingress REJECT 203.0.113.9 10.0.2.20 203.0.113.9 10.0.2.99",
    ]


def test_merge_adds_counts_widens_times_and_ors_flags() -> None:
    packets = [
        dropped("eni-b|sg-ingress|implicit", "203.0.113.9", "10.0.2.20", 40000, 22, 6, 60, t, flags=f)
        for t, f in ((1003.5, 0x02), (1001.2, 0x02), (1009.9, 0x04))
    ]
    records = merge(attribute(inventory(), [], packets, (1000.0, 1060.0)))
    assert lines(records, fmt="${packets} ${bytes} ${start} ${end} ${tcp-flags}") == ["3 180 1001 1009 6"]


def test_counts_from_before_the_interval_do_not_move_its_start() -> None:
    e = entry("10.0.1.10", "10.0.2.20", 40000, 5353, 17, (2, 100, 0, 0), start=900.0)
    records = attribute(inventory(), [delta(e, 900.0)], [], (1000.0, 1060.0))
    assert {(r.eni_id, r.direction, r.start, r.end) for r in records} == {
        ("eni-a", "egress", 1000, 1060),
        ("eni-b", "ingress", 1000, 1060),
    }
