"""The rendered router table: the NACL verdict remembered per flow (conntrack mark) is tied to the
table's contents, and NACL address classes that allow everything need no chain."""

from __future__ import annotations

import re

from cove.fabric.names import Names, subnet_group
from cove.fabric.nftables import render_table
from cove.netmodel import (
    Eni,
    NaclAction,
    NaclEntry,
    Network,
    NetworkAcl,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vpc,
    compile_network,
)

VPC = "vpc-rnd"


def _script(entries: tuple[NaclEntry, ...] = ()) -> str:
    allow = (NaclEntry(500, False, NaclAction.ALLOW), NaclEntry(500, True, NaclAction.ALLOW))
    network = Network(
        vpcs=[Vpc(VPC, ("10.7.0.0/16",))],
        subnets=[Subnet("subnet-rnd-a", VPC, "10.7.1.0/24"), Subnet("subnet-rnd-b", VPC, "10.7.2.0/24")],
        route_tables=[RouteTable("rtb-rnd", VPC, main=True)],
        network_acls=[
            NetworkAcl.allow_all("acl-rnd-default", VPC),
            NetworkAcl("acl-rnd", VPC, entries=entries + allow, subnet_ids=("subnet-rnd-b",)),
        ],
        security_groups=[
            SecurityGroup("sg-rnd", VPC, "x", (), (SecurityGroupRule(rule_id="sgr-rnd-out"),)),
        ],
        enis=[
            Eni("eni-rnd-a", "subnet-rnd-a", ("10.7.1.10",), ("sg-rnd",)),
            Eni("eni-rnd-b", "subnet-rnd-b", ("10.7.2.10",), ("sg-rnd",)),
        ],
    )
    (router,) = compile_network(network).vpcs
    return render_table(router)


def _forward(script: str) -> list[str]:
    body = script.split("chain forward {", 1)[1].split("\n  }\n", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


def _generation(script: str) -> int:
    first = _forward(script)[2]
    match = re.fullmatch(r"ct state established ct mark (0x[0-9a-f]{8}) accept", first)
    assert match, first
    return int(match.group(1), 16)


def test_the_remembered_verdict_belongs_to_the_table_that_gave_it() -> None:
    deny = (NaclEntry(10, False, NaclAction.DENY, "tcp", "10.7.1.0/24", (22, 22)),)
    plain, denying = _script(), _script(deny)
    assert _script() == plain, "the same rules render the same table, generation included"
    assert _generation(plain) != _generation(denying)
    for script in (plain, denying):
        passed = _generation(script)
        assert passed & 0x3 == 0x3, "the fast path needs both directions' bits"
        assert f"ct mark set {passed & ~0x3:#010x}" in script, "a flow of an older table starts over"
        assert "@" not in script.replace("@s_", "").replace("@m_", ""), "no placeholder left"


def test_the_fast_path_comes_first_and_the_mark_is_set_only_after_both_nacl_stages() -> None:
    forward = _forward(_script())
    assert forward[1].startswith("iifname vmap {"), "the source check sees every packet, first"
    assert forward[2].startswith("ct state established ct mark ")
    leave = next(i for i, line in enumerate(forward) if "_leave" in line)
    enter = next(i for i, line in enumerate(forward) if "_enter" in line)
    passed = forward.index("ct state { new, established } jump nacl_passed")
    assert leave < enter < passed < forward.index("ct state established,related accept")


def test_an_address_class_that_allows_everything_returns_from_the_map() -> None:
    deny = (NaclEntry(10, False, NaclAction.DENY, "tcp", "10.7.1.0/24", (22, 22)),)
    script = _script(deny)
    inbound = script.split("chain c_acl_rnd_inbound {", 1)[1].split("\n  }\n", 1)[0]
    # Outside 10.7.1.0/24 the allow-all entry decides alone; inside it the deny comes first.
    assert "0.0.0.0-10.7.0.255 : return" in inbound
    assert "10.7.2.0-255.255.255.255 : return" in inbound
    target = re.search(r"10\.7\.1\.0-10\.7\.1\.255 : goto (c_acl_rnd_inbound_\d+)", inbound)
    assert target, inbound
    chain = script.split(f"chain {target.group(1)} {{", 1)[1].split("\n  }\n", 1)[0]
    assert [line.strip() for line in chain.strip().splitlines()] == [
        'meta l4proto tcp th dport 22 log prefix "acl-rnd|nacl-inbound|10" group 100 drop',
        "return",
    ]


def test_a_subnet_is_known_by_the_interface_group_of_its_enis_veths() -> None:
    script = _script()
    group = subnet_group("10.7.1.0/24")
    leave = script.split("chain c_subnet_rnd_a_leave {", 1)[1].split("\n  }\n", 1)[0].split()
    assert " ".join(leave) == f"meta oifgroup {group} return jump c_acl_rnd_default_outbound"
    dispatch = next(line for line in _forward(script) if line.startswith("meta iifgroup vmap"))
    assert f"{group} : jump c_subnet_rnd_a_leave" in dispatch
    assert group != 0, "0 is every other link's group: gateways never count as a subnet"


def test_a_vpc_cidr_the_acl_allows_whole_is_answered_before_the_lookup() -> None:
    def first_rule(script: str) -> str:
        chain = script.split("chain c_acl_rnd_inbound {", 1)[1].split("\n  }\n", 1)[0]
        return chain.strip().splitlines()[0].strip()

    assert first_rule(_script()) == "ip saddr 10.7.0.0/16 return"
    deny = (NaclEntry(10, False, NaclAction.DENY, "tcp", "10.7.1.0/24", (22, 22)),)
    assert first_rule(_script(deny)).startswith("ip saddr vmap {"), "a deny inside the VPC: no shortcut"


def test_every_packet_an_eni_sends_meets_its_source_check() -> None:
    """Not only a flow's first: an ENI must not slip a packet with a peer's address into the peer's
    established flow, which the fast path would otherwise accept."""
    script = _script()
    checks = _forward(script)[1]
    for eni, address in (("eni-rnd-a", "10.7.1.10"), ("eni-rnd-b", "10.7.2.10")):
        chain = f"c_{eni.replace('-', '_')}_source"
        assert f'"{Names.router_interface(eni)}" : jump {chain}' in checks
        body = script.split(f"chain {chain} {{", 1)[1].split("\n  }\n", 1)[0].split()
        assert " ".join(body) == f"meta nfproto ipv4 ip saddr != {address} drop"
    assert "saddr != 10.7" not in script.split("chain c_eni_rnd_a_egress {", 1)[1].split("\n  }\n", 1)[0]
