"""Scenario table for `evaluate`: each case cites the rule of shared/reference/vpc-semantics.md it
exercises and asserts the verdict, every blocker code, and the rules that decided."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from netmodel_builders import ALLOW, DENY, S3, SM_API, acl_c_entries, edit, lab, resources

from cove.netmodel import (
    Eni,
    Flow,
    NaclEntry,
    NatConnectivity,
    Network,
    NetworkAcl,
    Route,
    RouteTargetKind,
    SecurityGroupRule,
    Subnet,
    Vpc,
    evaluate,
)

NAT, BLACKHOLE, ENI_T = RouteTargetKind.NAT, RouteTargetKind.BLACKHOLE, RouteTargetKind.ENI
INTERNET = "203.0.113.7"


def net(**changes: object) -> Callable[[], Network]:
    return lambda: lab(**changes)


def edited(resource_id: str, **fields: object) -> Callable[[], Network]:
    return lambda: lab(**edit(resource_id, **fields))


def priv_routes(*routes: Route) -> Callable[[], Network]:
    return edited("rtb-priv", routes=routes)


def with_c_trainers() -> Network:
    items = resources()
    return lab(
        eni_c2=Eni("eni-c2", "subnet-c", ("10.0.3.11",), ("sg-train",)),
        eni_c3=Eni("eni-c3", "subnet-c", ("10.0.3.12",), ("sg-train",)),
        rtb_pub=items["rtb-pub"],
    )


def acl_c(*entries: NaclEntry, keep: bool = True) -> Callable[[], Network]:
    base = acl_c_entries() if keep else ()
    return edited("acl-c", entries=base + entries)


def acl_c_without_out() -> Network:
    return lab(**edit("acl-c", entries=tuple(e for e in acl_c_entries() if not e.egress)))


def acl_c_out_ephemeral(lo: int, hi: int) -> Callable[[], Network]:
    entries = (
        *tuple(e for e in acl_c_entries() if not e.egress),
        NaclEntry(100, True, ALLOW, "tcp", "10.0.0.0/16", (lo, hi)),
    )
    return edited("acl-c", entries=entries)


def acl_on(subnet: str, *entries: NaclEntry) -> Callable[[], Network]:
    return net(acl_x=NetworkAcl("acl-x", "vpc-1", entries=entries, subnet_ids=(subnet,)))


def two_vpcs() -> Network:
    items = resources()
    return lab(
        vpc_2=Vpc("vpc-2", ("10.1.0.0/16",)),
        subnet_x=Subnet("subnet-x", "vpc-2", "10.1.1.0/24"),
        rtb_x=replace(items["rtb-main"], id="rtb-x", vpc_id="vpc-2"),
        acl_x2=NetworkAcl.allow_all("acl-x2", "vpc-2"),
        eni_x=Eni("eni-x", "subnet-x", ("10.1.1.10",)),
    )


def appliance(check: bool) -> Network:
    items = resources()
    return lab(
        rtb_priv=replace(
            items["rtb-priv"], routes=(*items["rtb-priv"].routes, Route("10.0.3.0/24", ENI_T, "eni-pub"))
        ),
        eni_pub=replace(items["eni-pub"], source_dest_check=check),
    )


@dataclass(frozen=True)
class Case:
    name: str
    flow: Flow
    decision: str
    codes: tuple[str, ...] = ()
    rules: tuple[tuple[str, str, str], ...] = ()
    """(component id, rule, action) that must be among the deciding rules."""
    net: Callable[[], Network] = lab
    hops: tuple[str, ...] = ()
    """component ids that must appear on the forward path."""


SGM, NORULES, ACL = "ENI_SG_RULES_MISMATCH", "SG_HAS_NO_RULES", "SUBNET_ACL_RESTRICTION"
NOROUTE = "NO_ROUTE_TO_DESTINATION"
TCP = "tcp"

CASES = [
    # §1.3 self-referencing SG (distributed training peers) + §1.2/§1.4 intra-subnet: no NACL, no route.
    Case(
        "self-ref same subnet",
        Flow("eni-a1", "eni-a2", TCP, 22),
        "ALLOW",
        rules=(("sg-train", "sgr-train-self", "allow"),),
    ),
    # §1.3 self-reference across subnets; §1.4 default NACL rule 100 allows all.
    Case(
        "self-ref across subnets",
        Flow("eni-a1", "eni-b1", TCP, 29500),
        "ALLOW",
        rules=(("acl-default", "100", "allow"), ("sg-train", "sgr-train-self", "allow")),
    ),
    # §1.3 protocol -1 rule covers UDP.
    Case("self-ref all protocols udp", Flow("eni-a1", "eni-b1", "udp", 4789), "ALLOW"),
    # §1.3 protocol -1 rule covers ICMP.
    Case("self-ref all protocols icmp", Flow("eni-a1", "eni-b1", "icmp"), "ALLOW"),
    # §1.11 distributed training needs the self-referencing inbound rule; §1.3 new SG has no inbound rules.
    Case(
        "no self-ref same subnet",
        Flow("eni-a1", "eni-a2", TCP, 22),
        "DENY",
        (NORULES,),
        rules=(("sg-train", "implicit-deny", "deny"),),
        net=edited("sg-train", ingress=()),
    ),
    Case(
        "no self-ref across subnets",
        Flow("eni-a1", "eni-b1", TCP, 29500),
        "DENY",
        (NORULES,),
        net=edited("sg-train", ingress=()),
    ),
    # §1.3 rules are allow-only and aggregated: a port-limited self rule does not cover other ports.
    Case(
        "self-ref port limited",
        Flow("eni-a1", "eni-b1", TCP, 29500),
        "DENY",
        (SGM,),
        net=edited("sg-train", ingress=(SecurityGroupRule(TCP, (22, 22), "sg-train"),)),
    ),
    # §1.3 SG references match only members of the referenced group.
    Case("sg ref non-member", Flow("eni-web", "eni-a1", TCP, 22), "DENY", (SGM,)),
    Case(
        "sg ref member",
        Flow("eni-a1", "eni-web", TCP, 22),
        "ALLOW",
        rules=(("sg-web", "sgr-web-ssh", "allow"),),
    ),
    # Network Access Analyzer style: every layer is reported, here NACL outbound and SG ingress.
    Case(
        "all blockers reported",
        Flow("eni-c1", "eni-web", TCP, 22),
        "DENY",
        (ACL, SGM),
        rules=(("acl-c", "*", "deny"), ("sg-web", "implicit-deny", "deny")),
    ),
    # §1.3 egress restrictions: removing/limiting outbound rules blocks outbound traffic.
    Case(
        "sg egress limited",
        Flow("eni-a1", "eni-b1", TCP, 22),
        "DENY",
        (SGM,),
        net=edited("sg-train", egress=(SecurityGroupRule(TCP, (443, 443)),)),
    ),
    Case(
        "sg egress empty",
        Flow("eni-a1", "eni-b1", TCP, 22),
        "DENY",
        (NORULES,),
        net=edited("sg-train", egress=()),
    ),
    # §1.7 "allow the service prefix list ID as destination in an outbound SG rule".
    Case(
        "sg egress to prefix list",
        Flow("eni-a1", S3, TCP, 443),
        "ALLOW",
        rules=(("sg-train", "sg-train/egress/0", "allow"),),
        net=edited("sg-train", egress=(SecurityGroupRule(TCP, (443, 443), "pl-s3"),)),
    ),
    Case(
        "sg egress prefix list only",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        (SGM,),
        net=edited("sg-train", egress=(SecurityGroupRule(TCP, (443, 443), "pl-s3"),)),
    ),
    # §1.3 stateful: responses are allowed regardless of the other direction's rules.
    Case(
        "stateful no egress on responder",
        Flow("eni-a1", "eni-web", TCP, 443),
        "ALLOW",
        net=edited("sg-web", egress=()),
    ),
    Case(
        "stateful no ingress on initiator",
        Flow("eni-a1", "eni-web", TCP, 443),
        "ALLOW",
        net=edited("sg-train", ingress=()),
    ),
    # §1.4 NACL inbound allow, and the reply allowed by the outbound ephemeral rule.
    Case(
        "nacl allow with ephemeral return",
        Flow("eni-a1", "eni-c1", TCP, 443),
        "ALLOW",
        rules=(("acl-c", "100", "allow"),),
    ),
    # §1.4 first match wins: deny 90 precedes allow 110.
    Case(
        "nacl first match deny",
        Flow("eni-a1", "eni-c1", TCP, 22),
        "DENY",
        (ACL,),
        rules=(("acl-c", "90", "deny"), ("sg-web", "sgr-web-ssh", "allow")),
    ),
    Case(
        "nacl deny cidr does not match",
        Flow("eni-b1", "eni-c1", TCP, 22),
        "ALLOW",
        rules=(("acl-c", "110", "allow"),),
    ),
    Case(
        "nacl lower number allow wins",
        Flow("eni-a1", "eni-c1", TCP, 22),
        "ALLOW",
        rules=(("acl-c", "80", "allow"),),
        net=acl_c(NaclEntry(80, False, ALLOW, TCP, "10.0.1.0/24", (22, 22))),
    ),
    # §1.4 the `*` rule denies what nothing matched (25 is below rule 120's 1024-65535); SG lacks it too.
    Case(
        "nacl star deny",
        Flow("eni-a1", "eni-c1", TCP, 25),
        "DENY",
        (ACL, SGM),
        rules=(("acl-c", "*", "deny"),),
    ),
    # §1.4 stateless: without an outbound ephemeral rule the reply is dropped.
    Case("nacl return blocked", Flow("eni-a1", "eni-c1", TCP, 443), "DENY", (ACL,), net=acl_c_without_out),
    # §1.4 ephemeral range: Linux picks 32768-60999, a rule for 49152-65535 covers only part.
    Case(
        "nacl return partial ephemeral",
        Flow("eni-a1", "eni-c1", TCP, 443),
        "DENY",
        (ACL,),
        net=acl_c_out_ephemeral(49152, 65535),
    ),
    Case(
        "nacl return explicit port inside",
        Flow("eni-a1", "eni-c1", TCP, 443, source_port=50000),
        "ALLOW",
        net=acl_c_out_ephemeral(49152, 65535),
    ),
    Case(
        "nacl return explicit port outside",
        Flow("eni-a1", "eni-c1", TCP, 443, source_port=40000),
        "DENY",
        (ACL,),
        net=acl_c_out_ephemeral(49152, 65535),
    ),
    Case(
        "nacl return full linux range",
        Flow("eni-a1", "eni-c1", TCP, 443),
        "ALLOW",
        net=acl_c_out_ephemeral(32768, 60999),
    ),
    # §1.4 "evaluated when traffic enters and leaves the subnet, not as it is routed within a subnet".
    Case("intra-subnet ignores nacl", Flow("eni-c2", "eni-c3", TCP, 25), "ALLOW", net=with_c_trainers),
    Case("cross-subnet applies nacl", Flow("eni-c2", "eni-a1", TCP, 25), "DENY", (ACL,), net=with_c_trainers),
    # §1.4 a custom NACL denies everything until rules are added: forward and reply both blocked.
    Case(
        "custom nacl denies all",
        Flow("eni-a1", "eni-b1", TCP, 22),
        "DENY",
        (ACL, ACL),
        rules=(("acl-x", "*", "deny"),),
        net=acl_on("subnet-b"),
    ),
    # §1.9 ICMP example: SG allows the echo, the NACL has no outbound rule for the echo reply.
    Case(
        "icmp reply blocked by nacl",
        Flow("eni-a1", "eni-c1", "icmp"),
        "DENY",
        (ACL,),
        rules=(("acl-c", "130", "allow"), ("sg-web", "sgr-web-ping", "allow")),
    ),
    Case(
        "icmp reply allowed",
        Flow("eni-a1", "eni-c1", "icmp"),
        "ALLOW",
        net=acl_c(NaclEntry(140, True, ALLOW, "icmp", "10.0.0.0/16", icmp_type=0, icmp_code=0)),
    ),
    # §1.3 ICMP type matching: the rule allows echo (8) only.
    Case("icmp type mismatch", Flow("eni-a1", "eni-web", "icmp", icmp_type=13, icmp_code=0), "DENY", (SGM,)),
    # §1.4 path MTU discovery: type 3 code 4 needs its own rule; no reply is expected.
    Case(
        "icmp type and code match",
        Flow("eni-a1", "eni-web", "icmp", icmp_type=3, icmp_code=4),
        "ALLOW",
        net=edited("sg-web", ingress=(SecurityGroupRule("icmp", None, "10.0.0.0/16", 3, 4),)),
    ),
    Case(
        "icmp code mismatch",
        Flow("eni-a1", "eni-web", "icmp", icmp_type=3, icmp_code=1),
        "DENY",
        (SGM,),
        net=edited("sg-web", ingress=(SecurityGroupRule("icmp", None, "10.0.0.0/16", 3, 4),)),
    ),
    # §1.3/§1.4 protocol -1 rules cover any IANA protocol (GRE 47).
    Case("protocol number via -1 rules", Flow("eni-a1", "eni-b1", 47), "ALLOW"),
    Case("protocol -1 flow", Flow("eni-a1", "eni-b1", -1), "ALLOW"),
    Case("protocol -1 flow needs all-protocol rule", Flow("eni-a1", "eni-web", -1), "DENY", (SGM,)),
    Case(
        "nacl deny protocol number",
        Flow("eni-a1", "eni-b1", 47),
        "DENY",
        (ACL, ACL),
        rules=(("acl-x", "50", "deny"),),
        net=acl_on(
            "subnet-b",
            NaclEntry(50, False, DENY, 47, "0.0.0.0/0"),
            NaclEntry(50, True, DENY, 47, "0.0.0.0/0"),
            NaclEntry(100, False, ALLOW),
            NaclEntry(100, True, ALLOW),
        ),
    ),
    Case(
        "nacl protocol deny spares tcp",
        Flow("eni-a1", "eni-b1", TCP, 22),
        "ALLOW",
        net=acl_on(
            "subnet-b",
            NaclEntry(50, False, DENY, 47, "0.0.0.0/0"),
            NaclEntry(100, False, ALLOW),
            NaclEntry(100, True, ALLOW),
        ),
    ),
    # §1.7 S3 through the gateway endpoint: the pl- route beats NAT 0.0.0.0/0 by longest prefix.
    Case(
        "s3 via gateway endpoint",
        Flow("eni-a1", S3, TCP, 443),
        "ALLOW",
        rules=(("rtb-priv", "pl-s3 -> vpce-s3", "route"),),
        hops=("vpce-s3", S3),
    ),
    # §1.7 a more specific route to a NAT wins over the prefix list.
    Case(
        "more specific nat beats prefix list",
        Flow("eni-a1", S3, TCP, 443),
        "ALLOW",
        rules=(("rtb-priv", "198.18.0.0/24 -> nat-1", "route"),),
        hops=("nat-1", "igw-1"),
        net=priv_routes(Route("0.0.0.0/0", NAT, "nat-1"), Route("198.18.0.0/24", NAT, "nat-1")),
    ),
    # §1.2 at equal prefix a static CIDR route beats the prefix-list route.
    Case(
        "static beats prefix list at equal prefix",
        Flow("eni-a1", S3, TCP, 443),
        "ALLOW",
        rules=(("rtb-priv", "198.18.0.0/16 -> nat-1", "route"),),
        hops=("nat-1",),
        net=priv_routes(Route("198.18.0.0/16", NAT, "nat-1")),
    ),
    # §1.11 a private subnet without endpoint or NAT cannot reach S3.
    Case(
        "no endpoint no nat no s3",
        Flow("eni-c1", S3, TCP, 443),
        "DENY",
        (NOROUTE,),
        rules=(("acl-c", "110", "allow"),),
    ),
    Case(
        "endpoint removed no nat",
        Flow("eni-a1", S3, TCP, 443),
        "DENY",
        (NOROUTE,),
        net=lambda: lab(remove=("vpce-s3",), **edit("rtb-priv", routes=())),
    ),
    Case(
        "s3 via nat without endpoint",
        Flow("eni-a1", S3, TCP, 443),
        "ALLOW",
        hops=("nat-1", "igw-1", S3),
        net=lambda: lab(remove=("vpce-s3",)),
    ),
    # §1.7 gateway endpoints carry only TCP and ICMP echo.
    Case(
        "gateway endpoint udp", Flow("eni-a1", S3, "udp", 443), "DENY", ("VPCE_GATEWAY_PROTOCOL_RESTRICTION",)
    ),
    Case("gateway endpoint icmp echo", Flow("eni-a1", S3, "icmp"), "ALLOW"),
    # §1.6/§1.4 NACLs cannot reference prefix lists: an inbound rule for the VPC only drops S3's replies.
    Case(
        "gateway endpoint reply blocked by nacl",
        Flow("eni-a1", S3, TCP, 443),
        "DENY",
        (ACL,),
        net=acl_on("subnet-a", NaclEntry(100, False, ALLOW, -1, "10.0.0.0/16"), NaclEntry(100, True, ALLOW)),
    ),
    # §1.7 interface endpoint: private DNS resolves to the endpoint ENI; its SG must allow 443.
    Case(
        "interface endpoint 443",
        Flow("eni-a1", SM_API, TCP, 443),
        "ALLOW",
        rules=(("sg-vpce", "sgr-vpce-443", "allow"),),
        hops=("vpce-sm",),
    ),
    Case(
        "interface endpoint sg blocks 443",
        Flow("eni-b1", SM_API, TCP, 443),
        "DENY",
        (SGM,),
        net=edited("sg-vpce", ingress=(SecurityGroupRule(TCP, (8443, 8443), "10.0.0.0/16"),)),
    ),
    Case(
        "interface endpoint tcp only",
        Flow("eni-a1", SM_API, "udp", 443),
        "DENY",
        ("PROTOCOL_RESTRICTION", SGM),
    ),
    # §1.7 private DNS off (or VPC DNS hostnames off): the service name resolves to public addresses.
    Case(
        "interface endpoint private dns off",
        Flow("eni-a1", SM_API, TCP, 443),
        "ALLOW",
        hops=("nat-1",),
        net=edited("vpce-sm", private_dns_enabled=False),
    ),
    Case(
        "interface endpoint needs dns hostnames",
        Flow("eni-c1", SM_API, TCP, 443),
        "DENY",
        (NOROUTE,),
        net=edited("vpc-1", enable_dns_hostnames=False),
    ),
    # §1.7 the service cannot initiate connections into the VPC through the endpoint.
    Case(
        "endpoint eni cannot initiate",
        Flow("eni-vpce", "eni-a1", TCP, 22),
        "DENY",
        ("VPCE_INTRA_VPC_TRAFFIC", NORULES, SGM),
    ),
    # §1.5 internet gateway with a public IP.
    Case("public subnet to internet", Flow("eni-pub", INTERNET, TCP, 443), "ALLOW", hops=("igw-1",)),
    Case(
        "igw not attached",
        Flow("eni-pub", INTERNET, TCP, 443),
        "DENY",
        ("IGW_NOT_ATTACHED",),
        net=edited("igw-1", vpc_id=None),
    ),
    Case(
        "no public ip",
        Flow("eni-pub", INTERNET, TCP, 443),
        "DENY",
        ("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",),
        net=edited("eni-pub", public_ip=None),
    ),
    # §1.5 NAT gateway: private subnet reaches the internet through the NAT's subnet and the IGW.
    Case(
        "private subnet via nat",
        Flow("eni-a1", INTERNET, TCP, 443),
        "ALLOW",
        hops=("nat-1", "rtb-pub", "igw-1"),
        rules=(("rtb-priv", "0.0.0.0/0 -> nat-1", "route"), ("rtb-pub", "0.0.0.0/0 -> igw-1", "route")),
    ),
    Case(
        "nat subnet without igw route",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        (NOROUTE,),
        net=edited("rtb-pub", routes=()),
    ),
    Case(
        "private nat to internet",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        ("IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",),
        net=edited("nat-1", connectivity=NatConnectivity.PRIVATE, elastic_ip=None),
    ),
    Case("nat tcp udp icmp only", Flow("eni-a1", INTERNET, 47), "DENY", ("PROTOCOL_RESTRICTION",)),
    # §1.5 NACLs apply to the NAT's subnet; replies arrive on 1024-65535 and need an inbound rule.
    Case(
        "nat reply blocked by nat subnet nacl",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        (ACL,),
        net=acl_on(
            "subnet-pub", NaclEntry(100, False, ALLOW, -1, "10.0.0.0/16"), NaclEntry(100, True, ALLOW)
        ),
    ),
    # §1.2 blackhole route (vanished target), more specific than the NAT default route.
    Case(
        "blackhole more specific",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        ("BAD_STATE_ROUTE", "MORE_SPECIFIC_ROUTE"),
        net=priv_routes(Route("0.0.0.0/0", NAT, "nat-1"), Route("203.0.113.0/24", BLACKHOLE, "pcx-gone")),
    ),
    Case(
        "blackhole only route",
        Flow("eni-a1", INTERNET, TCP, 443),
        "DENY",
        ("BAD_STATE_ROUTE",),
        net=priv_routes(Route("0.0.0.0/0", BLACKHOLE, "nat-gone")),
    ),
    Case(
        "blackhole beats prefix list at equal prefix",
        Flow("eni-a1", S3, TCP, 443),
        "DENY",
        ("BAD_STATE_ROUTE", "HIGHER_PRIORITY_ROUTE"),
        net=priv_routes(Route("198.18.0.0/16", BLACKHOLE, "x")),
    ),
    # §1.10 the Amazon DNS server is exempt from SGs and NACLs.
    Case(
        "resolver exempt",
        Flow("eni-c1", "10.0.0.2", "udp", 53),
        "ALLOW",
        rules=(("AmazonProvidedDNS", "exemption", "allow"),),
        net=edited("sg-web", egress=()),
    ),
    Case("resolver link local", Flow("eni-a1", "169.254.169.253", "udp", 53), "ALLOW"),
    Case("resolver only dns", Flow("eni-a1", "10.0.0.2", TCP, 80), "DENY", ("PROTOCOL_RESTRICTION",)),
    Case(
        "resolver dns support off",
        Flow("eni-a1", "10.0.0.2", "udp", 53),
        "DENY",
        ("NO_SOURCE_OR_DESTINATION",),
        net=edited("vpc-1", enable_dns_support=False),
    ),
    # Destinations and sources that are addresses rather than ENIs.
    Case("address without eni", Flow("eni-a1", "10.0.2.99", TCP, 22), "DENY", ("NO_SOURCE_OR_DESTINATION",)),
    Case(
        "planned job with training group",
        Flow("10.0.1.99", "eni-b1", TCP, 22, source_security_group_ids=("sg-train",)),
        "ALLOW",
        rules=(("sg-train", "sgr-train-self", "allow"),),
    ),
    Case("planned job gets default group", Flow("10.0.1.99", "eni-b1", TCP, 22), "DENY", (SGM,)),
    Case("source given by eni address", Flow("10.0.1.10", "10.0.1.11", TCP, 22), "ALLOW"),
    # §1.2 a route more specific than local to an appliance ENI; source/destination check must be off.
    Case(
        "appliance with source dest check",
        Flow("eni-a1", "eni-c1", TCP, 443),
        "DENY",
        ("ENI_SOURCE_DEST_CHECK_RESTRICTION",),
        hops=("eni-pub",),
        net=lambda: appliance(True),
    ),
    Case(
        "appliance forwarding",
        Flow("eni-a1", "eni-c1", TCP, 443),
        "ALLOW",
        hops=("eni-pub",),
        net=lambda: appliance(False),
    ),
    # §1.3 SG references need the same (or a peered) VPC; nothing connects these two VPCs.
    Case("disconnected vpcs", Flow("eni-a1", "eni-x", TCP, 22), "DENY", ("DISCONNECTED_VPCS",), net=two_vpcs),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scenario(case: Case) -> None:
    verdict = evaluate(case.net(), case.flow)
    explained = json.dumps(verdict.to_dict(), indent=1)
    assert verdict.decision.value == case.decision, explained
    assert sorted(verdict.codes) == sorted(case.codes), explained
    decided = {(r.component_id, r.rule, r.action) for r in verdict.deciding_rules}
    for rule in case.rules:
        assert rule in decided, explained
    on_path = {h.component_id for h in verdict.path}
    for component in case.hops:
        assert component in on_path, explained
    for blocker in verdict.blockers:
        assert blocker.message and blocker.component_id


def test_enough_scenarios() -> None:
    assert len(CASES) >= 60
