"""Pure model of Cove's VPCs: evaluate and explain flows, compile to kernel rule sets.

Standard library only; nothing else in Cove is imported here.
"""

from __future__ import annotations

from cove.netmodel.addresses import Address, Cidr, CidrIndex, format_address, parse_address, protocol_number
from cove.netmodel.evaluation import evaluate
from cove.netmodel.flow import DEFAULT_EPHEMERAL_PORTS, NAT_EPHEMERAL_PORTS, Flow, FlowError
from cove.netmodel.network import RESOLVER_LINK_LOCAL, Network, NetworkValidationError
from cove.netmodel.resources import (
    DEFAULT_ENDPOINT_POLICY,
    EndpointType,
    Eni,
    EniKind,
    FlowLog,
    InternetGateway,
    NaclAction,
    NaclEntry,
    NatConnectivity,
    NatGateway,
    NetworkAcl,
    PeerKind,
    PrefixList,
    Route,
    RouteTable,
    RouteTargetKind,
    SecurityGroup,
    SecurityGroupRule,
    Service,
    Subnet,
    Tenancy,
    TrafficType,
    Vpc,
    VpcEndpoint,
)
from cove.netmodel.verdict import Blocker, DecidingRule, Decision, ExplanationCode, Hop, Verdict

__all__ = [
    "DEFAULT_ENDPOINT_POLICY",
    "DEFAULT_EPHEMERAL_PORTS",
    "NAT_EPHEMERAL_PORTS",
    "RESOLVER_LINK_LOCAL",
    "Address",
    "Blocker",
    "Cidr",
    "CidrIndex",
    "DecidingRule",
    "Decision",
    "EndpointType",
    "Eni",
    "EniKind",
    "ExplanationCode",
    "Flow",
    "FlowError",
    "FlowLog",
    "Hop",
    "InternetGateway",
    "NaclAction",
    "NaclEntry",
    "NatConnectivity",
    "NatGateway",
    "Network",
    "NetworkAcl",
    "NetworkValidationError",
    "PeerKind",
    "PrefixList",
    "Route",
    "RouteTable",
    "RouteTargetKind",
    "SecurityGroup",
    "SecurityGroupRule",
    "Service",
    "Subnet",
    "Tenancy",
    "TrafficType",
    "Verdict",
    "Vpc",
    "VpcEndpoint",
    "evaluate",
    "format_address",
    "parse_address",
    "protocol_number",
]
