"""The VPC resources as frozen dataclasses, shaped after the EC2 API's own objects.

Addresses and CIDRs are kept as the strings a user writes; `Network` parses them once into
integer indexes. Protocols accept a number or a name and are normalised to the IANA number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cove.netmodel.addresses import ALL_PROTOCOLS, protocol_number

__all__ = [
    "DEFAULT_ENDPOINT_POLICY",
    "EndpointType",
    "Eni",
    "EniKind",
    "FlowLog",
    "InternetGateway",
    "NaclAction",
    "NaclEntry",
    "NatConnectivity",
    "NatGateway",
    "NetworkAcl",
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
    "Vpc",
    "VpcEndpoint",
    "peer_kind",
]

DEFAULT_ENDPOINT_POLICY = '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}'


class Tenancy(StrEnum):
    DEFAULT = "default"
    DEDICATED = "dedicated"


class RouteTargetKind(StrEnum):
    LOCAL = "local"
    IGW = "igw"
    NAT = "nat"
    VPCE = "vpce"
    ENI = "eni"
    BLACKHOLE = "blackhole"


class NaclAction(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class EniKind(StrEnum):
    INTERFACE = "interface"
    NAT_GATEWAY = "nat_gateway"
    VPC_ENDPOINT = "vpc_endpoint"
    EFA = "efa"


class EndpointType(StrEnum):
    GATEWAY = "Gateway"
    INTERFACE = "Interface"


class NatConnectivity(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class TrafficType(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    ALL = "ALL"


class PeerKind(StrEnum):
    CIDR = "cidr"
    SECURITY_GROUP = "security-group"
    PREFIX_LIST = "prefix-list"


def peer_kind(peer: str) -> PeerKind:
    if peer.startswith("sg-"):
        return PeerKind.SECURITY_GROUP
    if peer.startswith("pl-"):
        return PeerKind.PREFIX_LIST
    return PeerKind.CIDR


def _check_ports(ports: tuple[int, int] | None, what: str) -> None:
    if ports is not None and not 0 <= ports[0] <= ports[1] <= 65535:
        raise ValueError(f"{what}: port range {ports[0]}-{ports[1]} is not within 0-65535 in order")


@dataclass(frozen=True, slots=True)
class Vpc:
    id: str
    cidrs: tuple[str, ...]
    """IPv4 blocks, primary first (the resolver lives at primary base + 2)."""
    ipv6_cidrs: tuple[str, ...] = ()
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = False
    tenancy: Tenancy = Tenancy.DEFAULT


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    availability_zone: str = "us-east-1a"
    ipv6_cidr: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    destination: str
    """A CIDR or a prefix-list id (`pl-…`)."""
    target: RouteTargetKind
    target_id: str = ""
    """`local` for the local route; the igw/nat/vpce/eni id; for a blackhole, the vanished target."""
    propagated: bool = False

    @property
    def uses_prefix_list(self) -> bool:
        return self.destination.startswith("pl-")

    def describe(self) -> str:
        target = self.target_id or self.target.value
        return f"{self.destination} -> {target}"


@dataclass(frozen=True, slots=True)
class RouteTable:
    id: str
    vpc_id: str
    main: bool = False
    routes: tuple[Route, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    """Explicit associations; subnets without one use the VPC's main table."""


@dataclass(frozen=True, slots=True)
class NaclEntry:
    rule_number: int
    egress: bool
    action: NaclAction
    protocol: int | str = ALL_PROTOCOLS
    cidr: str = "0.0.0.0/0"
    ports: tuple[int, int] | None = None
    """Inclusive range for TCP/UDP; None means all ports."""
    icmp_type: int = -1
    icmp_code: int = -1

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", protocol_number(self.protocol))
        object.__setattr__(self, "action", NaclAction(self.action))
        if not 1 <= self.rule_number <= 32766:
            raise ValueError(f"NACL rule number {self.rule_number} is outside 1-32766")
        _check_ports(self.ports, f"NACL rule {self.rule_number}")


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    id: str
    vpc_id: str
    default: bool = False
    entries: tuple[NaclEntry, ...] = ()
    subnet_ids: tuple[str, ...] = ()

    @classmethod
    def allow_all(
        cls, id: str, vpc_id: str, *, default: bool = True, subnet_ids: tuple[str, ...] = ()
    ) -> NetworkAcl:
        """The default NACL's rules: 100 ALLOW all in both directions (then the `*` deny)."""
        entries = (
            NaclEntry(100, False, NaclAction.ALLOW),
            NaclEntry(100, True, NaclAction.ALLOW),
        )
        return cls(id, vpc_id, default, entries, subnet_ids)


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    protocol: int | str = ALL_PROTOCOLS
    ports: tuple[int, int] | None = None
    peer: str = "0.0.0.0/0"
    """A CIDR, a security group id (`sg-…`, the group's own id for self-reference) or a prefix-list id."""
    icmp_type: int = -1
    icmp_code: int = -1
    rule_id: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", protocol_number(self.protocol))
        _check_ports(self.ports, f"security group rule {self.rule_id or self.peer}")

    @property
    def peer_kind(self) -> PeerKind:
        return peer_kind(self.peer)


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    vpc_id: str
    name: str = ""
    ingress: tuple[SecurityGroupRule, ...] = ()
    egress: tuple[SecurityGroupRule, ...] = ()

    @classmethod
    def default(cls, id: str, vpc_id: str, *, name: str = "default") -> SecurityGroup:
        """The default group: all inbound from itself, all outbound to 0.0.0.0/0."""
        return cls(id, vpc_id, name, (SecurityGroupRule(peer=id),), (SecurityGroupRule(),))


@dataclass(frozen=True, slots=True)
class Eni:
    id: str
    subnet_id: str
    private_ips: tuple[str, ...]
    """Primary first."""
    security_group_ids: tuple[str, ...] = ()
    kind: EniKind = EniKind.INTERFACE
    public_ip: str | None = None
    mac: str | None = None
    source_dest_check: bool = True


@dataclass(frozen=True, slots=True)
class InternetGateway:
    id: str
    vpc_id: str | None = None
    """The attached VPC, or None when detached."""


@dataclass(frozen=True, slots=True)
class NatGateway:
    id: str
    subnet_id: str
    eni_id: str
    connectivity: NatConnectivity = NatConnectivity.PUBLIC
    elastic_ip: str | None = None


@dataclass(frozen=True, slots=True)
class PrefixList:
    id: str
    name: str
    cidrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VpcEndpoint:
    id: str
    vpc_id: str
    type: EndpointType
    service_name: str
    route_table_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    eni_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    policy_document: str = DEFAULT_ENDPOINT_POLICY
    """Opaque here: the policy engine evaluates it on requests that arrive through the endpoint."""
    private_dns_enabled: bool = True


@dataclass(frozen=True, slots=True)
class Service:
    """A named AWS service destination (`com.amazonaws.us-east-1.s3`) and its public address blocks."""

    name: str
    prefix_list_id: str
    hostname: str = ""

    @property
    def region(self) -> str:
        parts = self.name.split(".")
        return parts[2] if len(parts) > 3 else ""


@dataclass(frozen=True, slots=True)
class FlowLog:
    id: str
    resource_id: str
    """A VPC, subnet or ENI id; VPC and subnet logs cover every ENI inside."""
    traffic_type: TrafficType = TrafficType.ALL
