"""A small lab VPC used by the netmodel tests, and helpers to vary it one resource at a time.

vpc-1 10.0.0.0/16 (DNS support + hostnames), igw-1 attached
  subnet-pub  10.0.0.0/24 us-east-1a  rtb-pub (0.0.0.0/0 -> igw-1)       nat-1 (eni-nat 10.0.0.10, EIP)
  subnet-a    10.0.1.0/24 us-east-1a  rtb-priv (0.0.0.0/0 -> nat-1, S3 gateway endpoint route)
  subnet-b    10.0.2.0/24 us-east-1b  rtb-priv
  subnet-c    10.0.3.0/24 us-east-1c  rtb-main (local only), acl-c (custom)
S3 = com.amazonaws.us-east-1.s3 (pl-s3 198.18.0.0/16); SageMaker API (pl-sm 198.19.0.0/24) has an
interface endpoint vpce-sm with eni-vpce 10.0.1.50 in subnet-a guarded by sg-vpce (443 from the VPC).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cove.netmodel import (
    EndpointType,
    Eni,
    EniKind,
    InternetGateway,
    NaclAction,
    NaclEntry,
    NatGateway,
    Network,
    NetworkAcl,
    PrefixList,
    Route,
    RouteTable,
    RouteTargetKind,
    SecurityGroup,
    SecurityGroupRule,
    Service,
    Subnet,
    Vpc,
    VpcEndpoint,
)

S3 = "com.amazonaws.us-east-1.s3"
SM_API = "com.amazonaws.us-east-1.sagemaker.api"
ALLOW, DENY = NaclAction.ALLOW, NaclAction.DENY
EPHEMERAL = (1024, 65535)


def acl_c_entries() -> tuple[NaclEntry, ...]:
    """subnet-c: HTTPS in from the VPC, SSH denied from subnet-a, ephemeral replies allowed."""
    return (
        NaclEntry(90, False, DENY, "tcp", "10.0.1.0/24", (22, 22)),
        NaclEntry(100, False, ALLOW, "tcp", "10.0.0.0/16", (443, 443)),
        NaclEntry(110, False, ALLOW, "tcp", "10.0.0.0/16", (22, 22)),
        NaclEntry(120, False, ALLOW, "tcp", "0.0.0.0/0", EPHEMERAL),
        NaclEntry(130, False, ALLOW, "icmp", "10.0.0.0/16", icmp_type=8, icmp_code=0),
        NaclEntry(100, True, ALLOW, "tcp", "10.0.0.0/16", EPHEMERAL),
        NaclEntry(110, True, ALLOW, "tcp", "0.0.0.0/0", (443, 443)),
    )


def resources() -> dict[str, Any]:
    return {
        "vpc-1": Vpc("vpc-1", ("10.0.0.0/16",), enable_dns_support=True, enable_dns_hostnames=True),
        "subnet-pub": Subnet("subnet-pub", "vpc-1", "10.0.0.0/24", "us-east-1a"),
        "subnet-a": Subnet("subnet-a", "vpc-1", "10.0.1.0/24", "us-east-1a"),
        "subnet-b": Subnet("subnet-b", "vpc-1", "10.0.2.0/24", "us-east-1b"),
        "subnet-c": Subnet("subnet-c", "vpc-1", "10.0.3.0/24", "us-east-1c"),
        "igw-1": InternetGateway("igw-1", "vpc-1"),
        "rtb-main": RouteTable("rtb-main", "vpc-1", main=True),
        "rtb-pub": RouteTable(
            "rtb-pub",
            "vpc-1",
            routes=(Route("0.0.0.0/0", RouteTargetKind.IGW, "igw-1"),),
            subnet_ids=("subnet-pub",),
        ),
        "rtb-priv": RouteTable(
            "rtb-priv",
            "vpc-1",
            routes=(Route("0.0.0.0/0", RouteTargetKind.NAT, "nat-1"),),
            subnet_ids=("subnet-a", "subnet-b"),
        ),
        "acl-default": NetworkAcl.allow_all("acl-default", "vpc-1"),
        "acl-c": NetworkAcl("acl-c", "vpc-1", entries=acl_c_entries(), subnet_ids=("subnet-c",)),
        "sg-default": SecurityGroup.default("sg-default", "vpc-1"),
        "sg-train": SecurityGroup(
            "sg-train",
            "vpc-1",
            "training",
            ingress=(SecurityGroupRule(peer="sg-train", rule_id="sgr-train-self"),),
            egress=(SecurityGroupRule(rule_id="sgr-train-out"),),
        ),
        "sg-web": SecurityGroup(
            "sg-web",
            "vpc-1",
            "web",
            ingress=(
                SecurityGroupRule("tcp", (443, 443), "10.0.0.0/16", rule_id="sgr-web-443"),
                SecurityGroupRule("tcp", (22, 22), "sg-train", rule_id="sgr-web-ssh"),
                SecurityGroupRule(
                    "icmp", None, "10.0.0.0/16", icmp_type=8, icmp_code=-1, rule_id="sgr-web-ping"
                ),
            ),
            egress=(SecurityGroupRule(rule_id="sgr-web-out"),),
        ),
        "sg-vpce": SecurityGroup(
            "sg-vpce",
            "vpc-1",
            "endpoint",
            ingress=(SecurityGroupRule("tcp", (443, 443), "10.0.0.0/16", rule_id="sgr-vpce-443"),),
        ),
        "eni-a1": Eni("eni-a1", "subnet-a", ("10.0.1.10",), ("sg-train",)),
        "eni-a2": Eni("eni-a2", "subnet-a", ("10.0.1.11",), ("sg-train",)),
        "eni-b1": Eni("eni-b1", "subnet-b", ("10.0.2.10",), ("sg-train",)),
        "eni-web": Eni("eni-web", "subnet-b", ("10.0.2.20",), ("sg-web",)),
        "eni-c1": Eni("eni-c1", "subnet-c", ("10.0.3.10",), ("sg-web",)),
        "eni-pub": Eni("eni-pub", "subnet-pub", ("10.0.0.20",), ("sg-web",), public_ip="203.0.113.20"),
        "eni-nat": Eni("eni-nat", "subnet-pub", ("10.0.0.10",), kind=EniKind.NAT_GATEWAY),
        "nat-1": NatGateway("nat-1", "subnet-pub", "eni-nat", elastic_ip="203.0.113.10"),
        "pl-s3": PrefixList("pl-s3", S3, ("198.18.0.0/16",)),
        "pl-sm": PrefixList("pl-sm", SM_API, ("198.19.0.0/24",)),
        S3: Service(S3, "pl-s3", "s3.us-east-1.amazonaws.com"),
        SM_API: Service(SM_API, "pl-sm", "api.sagemaker.us-east-1.amazonaws.com"),
        "vpce-s3": VpcEndpoint("vpce-s3", "vpc-1", EndpointType.GATEWAY, S3, route_table_ids=("rtb-priv",)),
        "vpce-sm": VpcEndpoint(
            "vpce-sm",
            "vpc-1",
            EndpointType.INTERFACE,
            SM_API,
            subnet_ids=("subnet-a",),
            eni_ids=("eni-vpce",),
            security_group_ids=("sg-vpce",),
        ),
        "eni-vpce": Eni("eni-vpce", "subnet-a", ("10.0.1.50",), kind=EniKind.VPC_ENDPOINT),
    }


_KINDS: dict[type, str] = {
    Vpc: "vpcs",
    Subnet: "subnets",
    RouteTable: "route_tables",
    NetworkAcl: "network_acls",
    SecurityGroup: "security_groups",
    Eni: "enis",
    InternetGateway: "internet_gateways",
    NatGateway: "nat_gateways",
    PrefixList: "prefix_lists",
    VpcEndpoint: "vpc_endpoints",
    Service: "services",
}


def build(items: dict[str, Any]) -> Network:
    groups: dict[str, list[Any]] = {name: [] for name in _KINDS.values()}
    for item in items.values():
        groups[_KINDS[type(item)]].append(item)
    return Network(
        vpcs=groups["vpcs"],
        subnets=groups["subnets"],
        route_tables=groups["route_tables"],
        network_acls=groups["network_acls"],
        security_groups=groups["security_groups"],
        enis=groups["enis"],
        internet_gateways=groups["internet_gateways"],
        nat_gateways=groups["nat_gateways"],
        prefix_lists=groups["prefix_lists"],
        vpc_endpoints=groups["vpc_endpoints"],
        services=groups["services"],
    )


def lab(*, remove: tuple[str, ...] = (), **changes: Any) -> Network:
    """The lab network with resources replaced (keyword = resource id with `-` as `_`) or removed."""
    items = resources()
    for key in remove:
        del items[key]
    for key, value in changes.items():
        items[key.replace("_", "-")] = value
    return build(items)


def edit(resource_id: str, **fields: Any) -> dict[str, Any]:
    """`lab(**edit("sg-web", ingress=()))`: one resource of the lab with some fields changed."""
    return {resource_id.replace("-", "_"): replace(resources()[resource_id], **fields)}
