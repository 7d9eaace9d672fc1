"""Protocol name/number normalisation shared by security groups and network ACLs."""

from __future__ import annotations

import pytest

from cove.services.ec2 import ip_protocols


@pytest.mark.parametrize(
    ("given", "sg", "acl"),
    [
        ("-1", "-1", "-1"),
        ("all", "-1", "-1"),
        ("tcp", "tcp", "6"),
        ("6", "tcp", "6"),
        ("UDP", "udp", "17"),
        ("17", "udp", "17"),
        ("icmp", "icmp", "1"),
        ("1", "icmp", "1"),
        ("icmpv6", "icmpv6", "58"),
        ("58", "icmpv6", "58"),
        ("50", "50", "50"),
        (47, "47", "47"),
    ],
)
def test_spellings(given: str | int, sg: str, acl: str) -> None:
    assert ip_protocols.sg_protocol(given) == sg
    assert ip_protocols.acl_protocol(given) == acl


@pytest.mark.parametrize("bad", ["bogus", "256", "-2", "", None])
def test_unknown_protocols(bad: str | None) -> None:
    assert ip_protocols.protocol_number(bad) is None
    assert ip_protocols.sg_protocol(bad) is None


def test_ports_and_icmp() -> None:
    assert ip_protocols.has_ports("tcp") and ip_protocols.has_ports("17")
    assert not ip_protocols.has_ports("-1") and not ip_protocols.has_ports("icmp")
    assert ip_protocols.is_icmp("1") and ip_protocols.is_icmp("icmpv6") and not ip_protocols.is_icmp("6")
