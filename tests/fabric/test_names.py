"""Kernel object names and numbers: a subnet's interface group must be one the kernel's tools take."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from cove.fabric import netns
from cove.fabric.names import subnet_group
from tests.fabric.fabric_support import fabric_available


def test_subnet_groups_are_distinct_nonzero_and_below_2_31() -> None:
    subnets = [str(s) for s in ipaddress.IPv4Network("172.31.0.0/16").subnets(new_prefix=20)]
    subnets += ["10.0.0.0/28", "10.0.0.16/28", "192.168.255.240/28", "255.255.255.240/28", "0.0.0.16/28"]
    groups = [subnet_group(s) for s in subnets]
    assert len(set(groups)) == len(groups)
    assert all(0 < g < 2**31 for g in groups), groups


@pytest.mark.root
@pytest.mark.skipif(not fabric_available(), reason="needs root and netns")
def test_the_kernel_takes_the_group_of_a_default_vpc_subnet() -> None:
    """The default VPC's 172.31.0.0/16 is above 2**31 as a number, which iproute2 refuses as a group."""
    name = f"cvtnames-{uuid.uuid4().hex[:6]}"
    netns.create(name)
    try:
        group = subnet_group("172.31.240.0/20")
        netns.run(
            name, ["ip", "link", "add", "grp0", "group", str(group), "type", "veth", "peer", "name", "grp1"]
        )
        shown = netns.run(name, ["ip", "-d", "link", "show", "grp0"]).stdout
        assert f"group {group}" in shown
    finally:
        netns.remove(name)
