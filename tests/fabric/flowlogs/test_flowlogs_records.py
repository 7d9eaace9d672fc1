"""Record text against the AWS documentation's own example lines (vpc-semantics §1.9 and the
VPC user guide's "Flow log record examples", awsdocs/amazon-vpc-user-guide)."""

from __future__ import annotations

from typing import Any

import pytest

from cove.fabric.flowlogs import DEFAULT_FORMAT, EniInfo, FlowRecord, FormatError, LogFormat, parse_format
from cove.fabric.flowlogs.records import aws_tcp_flags, status_record


def eni(
    primary: str,
    eni_id: str = "eni-1235b8ca123456789",
    *,
    account: str = "123456789010",
    vpc: str = "vpc-abcdefab012345678",
    subnet: str = "subnet-aaaaaaaa012345678",
    instance: str | None = "i-01234567890123456",
    region: str | None = None,
    az: str | None = None,
) -> EniInfo:
    return EniInfo(eni_id, primary, (primary,), "v00000000", subnet, vpc, instance, account, region, az)


def rec(
    e: EniInfo,
    direction: str,
    action: str,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    proto: int,
    packets: int,
    size: int,
    start: int,
    end: int,
    **extra: Any,
) -> FlowRecord:
    return FlowRecord(
        e.eni_id, direction, action, proto, src, dst, sport, dport, packets, size, start, end, **extra
    )


def test_default_accept_and_reject_lines() -> None:
    fmt = LogFormat()
    ssh = eni("172.31.16.21")
    line = fmt.line(
        rec(
            ssh,
            "ingress",
            "ACCEPT",
            "172.31.16.139",
            "172.31.16.21",
            20641,
            22,
            6,
            20,
            4249,
            1418530010,
            1418530070,
        ),
        ssh,
    )
    assert line == (
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        "1418530010 1418530070 ACCEPT OK"
    )
    rdp = eni("172.31.9.12")
    line = fmt.line(
        rec(
            rdp,
            "ingress",
            "REJECT",
            "172.31.9.69",
            "172.31.9.12",
            49761,
            3389,
            6,
            20,
            4249,
            1418530010,
            1418530070,
        ),
        rdp,
    )
    assert line == (
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
        "1418530010 1418530070 REJECT OK"
    )


def test_nodata_and_skipdata_lines() -> None:
    fmt = LogFormat(DEFAULT_FORMAT)
    e = eni("172.31.16.21")
    assert (
        fmt.line(status_record(e.eni_id, 1431280876, 1431280934, "NODATA"), e)
        == "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
    )
    other = eni("172.31.16.22", "eni-11111111aaaaaaaaa")
    assert (
        fmt.line(status_record(other.eni_id, 1431280876, 1431280934, "SKIPDATA"), other)
        == "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA"
    )


def test_icmp_request_accepted_and_response_rejected() -> None:
    fmt = LogFormat()
    e = eni("172.31.16.139")
    accept = rec(
        e, "ingress", "ACCEPT", "203.0.113.12", "172.31.16.139", 0, 0, 1, 4, 336, 1432917027, 1432917142
    )
    reject = rec(
        e, "egress", "REJECT", "172.31.16.139", "203.0.113.12", 0, 0, 1, 4, 336, 1432917094, 1432917142
    )
    assert fmt.line(accept, e) == (
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK"
    )
    assert fmt.line(reject, e) == (
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK"
    )


def test_ipv6_addresses_are_shown_as_they_are() -> None:
    e = eni("172.31.16.21")
    r = rec(
        e,
        "ingress",
        "ACCEPT",
        "2001:db8:1234:a100:8d6e:3477:df66:f105",
        "2001:db8:1234:a102:3304:8879:34cf:4071",
        34892,
        22,
        6,
        54,
        8855,
        1477913708,
        1477913820,
    )
    assert LogFormat().line(r, e) == (
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
        "2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
    )


TCP_FLAGS_FORMAT = (
    "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} "
    "${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} "
    "${start} ${end} ${action} ${tcp-flags} ${log-status}"
)
_PREFIX = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4"


@pytest.mark.parametrize(
    ("direction", "sport", "dport", "size", "packets", "start", "end", "flags", "expected"),
    [
        ("ingress", 43416, 5001, 568, 8, 1566848875, 1566848933, 2,
         "52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK"),
        ("egress", 5001, 43416, 376, 7, 1566848875, 1566848933, 18,
         "10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK"),
        ("egress", 5001, 43418, 63388, 1219, 1566848933, 1566849113, 1,
         "10.0.0.62 52.213.180.42 5001 43418 10.0.0.62 52.213.180.42 6 63388 1219 1566848933 1566849113 ACCEPT 1 OK"),
        ("ingress", 43638, 5001, 1260, 17, 1566933133, 1566933193, 3,
         "52.213.180.42 10.0.0.62 43638 5001 52.213.180.42 10.0.0.62 6 1260 17 1566933133 1566933193 ACCEPT 3 OK"),
        ("egress", 5001, 43638, 967, 14, 1566933133, 1566933193, 19,
         "10.0.0.62 52.213.180.42 5001 43638 10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK"),
    ],
)  # fmt: skip
def test_tcp_flag_sequence_custom_format(
    direction: str,
    sport: int,
    dport: int,
    size: int,
    packets: int,
    start: int,
    end: int,
    flags: int,
    expected: str,
) -> None:
    e = eni("10.0.0.62")
    src, dst = ("52.213.180.42", "10.0.0.62") if direction == "ingress" else ("10.0.0.62", "52.213.180.42")
    r = rec(e, direction, "ACCEPT", src, dst, sport, dport, 6, packets, size, start, end, tcp_flags=flags)
    assert LogFormat(TCP_FLAGS_FORMAT).line(r, e) == f"{_PREFIX} {expected}"


def test_transit_gateway_enis_show_their_primary_and_the_packet_addresses() -> None:
    fmt = LogFormat(
        "${version} ${interface-id} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${srcaddr} ${dstaddr} "
        "${srcport} ${dstport} ${protocol} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${action} ${log-status}"
    )
    server = eni("10.40.2.236", "eni-33333333333333333", subnet="subnet-22222222bbbbbbbbb")
    request = rec(
        server, "ingress", "ACCEPT", "10.20.33.164", "10.40.2.236", 39812, 80, 6, 1, 60, 0, 0, tcp_flags=3
    )
    assert fmt.line(request, server) == (
        "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 "
        "10.20.33.164 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK"
    )
    tgw_in = eni("10.40.1.175", "eni-11111111111111111", subnet="subnet-11111111aaaaaaaaa", instance=None)
    forwarded = rec(
        tgw_in, "egress", "ACCEPT", "10.20.33.164", "10.40.2.236", 39812, 80, 6, 1, 60, 0, 0, tcp_flags=3
    )
    assert fmt.line(forwarded, tgw_in) == (
        "3 eni-11111111111111111 123456789010 vpc-abcdefab012345678 subnet-11111111aaaaaaaaa - "
        "10.40.1.175 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK"
    )
    tgw_out = eni("10.40.2.31", "eni-22222222222222222", subnet="subnet-22222222bbbbbbbbb", instance=None)
    response = rec(
        tgw_out, "ingress", "ACCEPT", "10.40.2.236", "10.20.33.164", 80, 39812, 6, 1, 60, 0, 0, tcp_flags=19
    )
    assert fmt.line(response, tgw_out) == (
        "3 eni-22222222222222222 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb - "
        "10.40.2.236 10.40.2.31 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 ACCEPT OK"
    )


def test_nat_gateway_interface_records() -> None:
    fmt = LogFormat("${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}")
    nat = eni("10.0.0.220", instance=None)
    lines = [
        fmt.line(rec(nat, d, "ACCEPT", s, t, 1, 2, 6, 1, 60, 0, 0), nat)
        for d, s, t in (
            ("ingress", "10.0.1.5", "203.0.113.5"),
            ("egress", "10.0.0.220", "203.0.113.5"),
            ("ingress", "203.0.113.5", "10.0.0.220"),
            ("egress", "203.0.113.5", "10.0.1.5"),
        )
    ]
    assert lines == [
        "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5",
        "- eni-1235b8ca123456789 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5",
        "- eni-1235b8ca123456789 203.0.113.5 10.0.0.220 203.0.113.5 10.0.0.220",
        "- eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5",
    ]


def test_version_5_fields_service_traffic_path_and_direction() -> None:
    fmt = LogFormat(
        "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} "
        "${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} "
        "${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} "
        "${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}"
    )
    assert fmt.version == 5
    e = eni(
        "10.0.0.71",
        account="123456789012",
        instance="i-0c50d5961bcb2d47b",
        region="ap-southeast-2",
        az="apse2-az3",
    )
    ingress = rec(
        e, "ingress", "ACCEPT", "52.95.128.179", "10.0.0.71", 80, 34210, 6, 14, 15044, 1616729292, 1616729349,
        tcp_flags=19, pkt_src_service="S3", traffic_path="8",
    )  # fmt: skip
    egress = rec(
        e, "egress", "ACCEPT", "10.0.0.71", "52.95.128.179", 34210, 80, 6, 7, 471, 1616729292, 1616729349,
        tcp_flags=3, pkt_dst_service="S3", traffic_path="8",
    )  # fmt: skip
    assert fmt.line(ingress, e) == (
        "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 "
        "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 "
        "ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK"
    )
    assert fmt.line(egress, e) == (
        "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 "
        "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 "
        "ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK"
    )


def test_secondary_address_shows_the_primary_in_srcaddr_and_the_real_one_in_pkt_fields() -> None:
    e = EniInfo("eni-1", "10.0.1.10", ("10.0.1.10/32", "10.0.1.11/32"), "v1", "subnet-1", "vpc-1", None, "1")
    r = FlowRecord("eni-1", "ingress", "ACCEPT", 17, "10.0.2.20", "10.0.1.11", 5000, 53, 1, 40, 1, 2)
    fmt = LogFormat("${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${tcp-flags} ${traffic-path}")
    assert fmt.line(r, e) == "10.0.2.20 10.0.1.10 10.0.2.20 10.0.1.11 0 -"


def test_custom_format_nodata_keeps_the_resource_fields() -> None:
    e = eni("10.0.0.62", region="us-east-1", az="use1-az1")
    fmt = LogFormat(
        "${version} ${vpc-id} ${instance-id} ${srcaddr} ${tcp-flags} ${az-id} ${start} ${end} ${log-status}"
    )
    assert fmt.version == 4
    assert fmt.line(status_record(e.eni_id, 10, 70, "NODATA"), e) == (
        "4 vpc-abcdefab012345678 i-01234567890123456 - - use1-az1 10 70 NODATA"
    )


def test_parse_format() -> None:
    assert parse_format(None) == parse_format(DEFAULT_FORMAT)
    assert parse_format("  ${srcaddr}   ${reject-reason} ") == ("srcaddr", "reject-reason")
    assert LogFormat("${srcaddr} ${reject-reason}").version == 8
    with pytest.raises(FormatError, match="Unknown fields provided: nope"):
        parse_format("${srcaddr} ${nope}")
    with pytest.raises(FormatError, match="Unrecognized token 'srcaddr'"):
        parse_format("srcaddr")


@pytest.mark.parametrize(
    ("raw", "aws"), [(0x02, 2), (0x12, 18), (0x11, 1), (0x10, 0), (0x18, 0), (0x04, 4), (0x14, 4), (0x13, 19)]
)
def test_tcp_flags_spelling(raw: int, aws: int) -> None:
    assert aws_tcp_flags(raw) == aws
