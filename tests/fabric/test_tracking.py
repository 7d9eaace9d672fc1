"""Which conntrack entries a rule change cuts (no kernel: compiled routers and `conntrack -L` text).
The kernel side, real connections that survive or stop, is in test_fabric_stateful.py."""

from __future__ import annotations

from cove.fabric.tracking import ConntrackEntry, flows_to_cut, parse_conntrack
from cove.netmodel import SecurityGroupRule, VpcRouter, compile_network
from tests.fabric.test_fabric_stateful import (
    ALL_IN,
    ALL_OUT,
    CLIENT,
    PUBLIC,
    SERVER,
    Rules,
    network,
    tcp_from,
)

LISTING = """\
tcp      6 431999 ESTABLISHED src=10.9.1.10 dst=10.9.2.10 sport=46378 dport=8080 packets=6 bytes=321 \
src=10.9.2.10 dst=10.9.1.10 sport=8080 dport=46378 packets=4 bytes=217 [ASSURED] mark=0 delta-time=3 use=1
tcp      6 431999 ESTABLISHED src=10.9.0.20 dst=203.0.113.9 sport=34320 dport=9000 packets=6 bytes=321 \
src=203.0.113.9 dst=198.19.9.20 sport=9000 dport=34320 packets=4 bytes=217 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=203.0.113.9 dst=198.19.9.20 sport=40000 dport=8080 \
src=10.9.0.20 dst=203.0.113.9 sport=8080 dport=40000 [ASSURED] mark=0 use=1
udp      17 29 src=10.9.1.10 dst=10.9.2.10 sport=44709 dport=5000 packets=1 bytes=29 [UNREPLIED] \
src=10.9.2.10 dst=10.9.1.10 sport=5000 dport=44709 packets=0 bytes=0 mark=0 use=1
icmp     1 29 src=10.9.1.10 dst=10.9.2.10 type=8 code=0 id=7 src=10.9.2.10 dst=10.9.1.10 type=0 code=0 id=7 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.
"""


def router(rules: Rules) -> VpcRouter:
    return compile_network(network(rules)).vpcs[0]


def entry(
    initiator: str, responder: str, dport: int, protocol: int = 6, sport: int = 40000
) -> ConntrackEntry:
    return ConntrackEntry(protocol, initiator, responder, sport, dport, responder)


def test_listing_is_read_as_the_forward_hook_saw_it() -> None:
    entries = parse_conntrack(LISTING)
    assert entries == [
        ConntrackEntry(6, "10.9.1.10", "10.9.2.10", 46378, 8080, "10.9.2.10"),
        # Source NAT out of the internet gateway: the private address is the initiator.
        ConntrackEntry(6, "10.9.0.20", "203.0.113.9", 34320, 9000, "203.0.113.9"),
        # Destination NAT in: the responder is the private address, conntrack keys the public one.
        ConntrackEntry(6, "203.0.113.9", "10.9.0.20", 40000, 8080, "198.19.9.20"),
        ConntrackEntry(17, "10.9.1.10", "10.9.2.10", 44709, 5000, "10.9.2.10"),
    ]


def test_only_untracked_flows_that_lose_their_rule_are_cut() -> None:
    flow = entry(CLIENT[1], SERVER[1], 8080)
    untracked = router(Rules(server_in=(tcp_from("0.0.0.0/0"),)))
    assert flows_to_cut(untracked, router(Rules()), [flow]) == [flow]
    # Still admitted by another rule: untracked packets are judged by rules, and pass.
    assert flows_to_cut(untracked, router(Rules(server_in=(tcp_from("10.9.1.0/24"),))), [flow]) == []
    # Another port: not this flow's rule.
    assert flows_to_cut(untracked, router(Rules()), [entry(CLIENT[1], SERVER[1], 8081)]) == []
    # The responses lose their all-open rule: the flow is no longer admitted both ways.
    assert flows_to_cut(
        untracked, router(Rules(server_in=(tcp_from("0.0.0.0/0"),), server_out=())), [flow]
    ) == [flow]


def test_tracked_flows_are_never_cut() -> None:
    flow = entry(CLIENT[1], SERVER[1], 8080)
    narrow = router(Rules(server_in=(tcp_from("10.9.1.0/24"),)))
    assert flows_to_cut(narrow, router(Rules()), [flow]) == []
    # 0.0.0.0/0 in, but the outbound side is not open to everything on every port.
    out_443 = (SecurityGroupRule("tcp", (443, 443), "0.0.0.0/0"),)
    half = router(Rules(server_in=(tcp_from("0.0.0.0/0"),), server_out=out_443))
    assert flows_to_cut(half, router(Rules(server_out=out_443)), [flow]) == []
    # An all-TCP outbound rule is open enough for a TCP flow.
    all_tcp = (SecurityGroupRule("tcp", (0, 65535), "0.0.0.0/0"),)
    tcp_only = router(Rules(server_in=(tcp_from("0.0.0.0/0"),), server_out=all_tcp))
    assert flows_to_cut(tcp_only, router(Rules(server_out=all_tcp)), [flow]) == [flow]


def test_each_end_is_judged_by_its_own_rules() -> None:
    flow = entry(CLIENT[1], SERVER[1], 8080)
    # The client's egress 0.0.0.0/0 + ingress all: untracked at the client; the server's rule is
    # narrow (tracked there). Losing the server's rule cuts nothing, losing the client's does.
    before = router(Rules(server_in=(tcp_from("10.9.1.0/24"),), client_in=(ALL_IN,)))
    assert flows_to_cut(before, router(Rules(client_in=(ALL_IN,))), [flow]) == []
    after = router(Rules(server_in=(tcp_from("10.9.1.0/24"),), client_in=(ALL_IN,), client_out=()))
    assert flows_to_cut(before, after, [flow]) == [flow]


def test_nat_gateway_and_resolver_flows_stay() -> None:
    open_both = Rules(client_in=(ALL_IN,), client_out=(ALL_OUT,))
    closed = Rules(client_in=(ALL_IN,), client_out=())
    via_nat = entry(CLIENT[1], "203.0.113.9", 9000)
    via_igw = entry(PUBLIC[1], "203.0.113.9", 9000)
    resolver = entry(CLIENT[1], "10.9.0.2", 53, protocol=17)
    assert flows_to_cut(router(open_both), router(closed), [via_nat, via_igw, resolver]) == [via_igw]


def test_inbound_internet_flow_is_judged_at_the_public_eni() -> None:
    inbound = ConntrackEntry(6, "203.0.113.9", PUBLIC[1], 40000, 8080, "198.19.9.20")
    # sg-stc carries the public ENI's rules too.
    before = router(Rules(client_in=(tcp_from("0.0.0.0/0"),)))
    assert flows_to_cut(before, router(Rules()), [inbound]) == [inbound]
