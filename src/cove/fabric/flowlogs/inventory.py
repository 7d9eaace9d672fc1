"""What the collector knows about one VPC: its ENIs, the flow logs over them, and what is exempt.

The fabric hands these in (`FlowLogCollector.update`) whenever the topology changes; everything
here is plain data so the attribution and formatting can be tested without a kernel.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["LINK_LOCAL", "EniInfo", "FlowLogSpec", "Inventory", "bare_address"]

LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
"""Instance metadata, time sync, the Amazon DNS alias and the credentials endpoint live here;
AWS never flow-logs traffic to them."""

_TRAFFIC_TYPES = ("ACCEPT", "REJECT", "ALL")


def bare_address(text: str) -> str:
    """`10.0.1.5/32` → `10.0.1.5`, in the canonical spelling flow records use."""
    return str(ipaddress.ip_address(text.split("/", 1)[0]))


@dataclass(frozen=True, slots=True)
class EniInfo:
    eni_id: str
    primary_address: str
    addresses: tuple[str, ...]
    """Every private address of the ENI (the primary included); `/32` suffixes are allowed."""
    router_interface: str
    """The router-side veth (`Names.router_interface(eni_id)`)."""
    subnet_id: str
    vpc_id: str
    instance_id: str | None
    account_id: str
    region: str | None = None
    az_id: str | None = None


@dataclass(frozen=True, slots=True)
class FlowLogSpec:
    flow_log_id: str
    traffic_type: str
    """ACCEPT | REJECT | ALL"""
    log_format: str | None
    """None or empty: the default version-2 format."""
    eni_ids: tuple[str, ...]
    max_aggregation_interval: int = 600

    def __post_init__(self) -> None:
        if self.traffic_type not in _TRAFFIC_TYPES:
            raise ValueError(f"traffic_type must be one of {_TRAFFIC_TYPES}, not {self.traffic_type!r}")

    def wants(self, action: str) -> bool:
        return self.traffic_type in ("ALL", action)


@dataclass(slots=True)
class Inventory:
    """Lookups over the ENIs of one VPC."""

    enis: dict[str, EniInfo] = field(default_factory=dict)
    by_address: dict[str, EniInfo] = field(default_factory=dict)
    by_interface: dict[str, EniInfo] = field(default_factory=dict)
    vpc_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    services: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = ()
    exempt: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        enis: Iterable[EniInfo],
        *,
        vpc_cidrs: Iterable[str] = (),
        aws_services: Mapping[str, str] | None = None,
        exempt: Iterable[str] = (),
    ) -> Inventory:
        """`aws_services`: CIDR → service name (`S3`, `AMAZON`…) for the pkt-*-aws-service fields."""
        inventory = cls()
        for eni in enis:
            inventory.enis[eni.eni_id] = eni
            inventory.by_interface[eni.router_interface] = eni
            for address in (eni.primary_address, *eni.addresses):
                inventory.by_address[bare_address(address)] = eni
        inventory.vpc_networks = tuple(ipaddress.ip_network(c, strict=False) for c in vpc_cidrs)
        # Longest prefix first, so the most specific service name wins.
        services = [(ipaddress.ip_network(c, strict=False), n) for c, n in (aws_services or {}).items()]
        inventory.services = tuple(sorted(services, key=lambda item: -item[0].prefixlen))
        inventory.exempt = frozenset(bare_address(a) for a in exempt)
        return inventory

    def with_exempt(self, exempt: Iterable[str]) -> Inventory:
        return Inventory(
            self.enis,
            self.by_address,
            self.by_interface,
            self.vpc_networks,
            self.services,
            frozenset(bare_address(a) for a in exempt),
        )

    def is_exempt(self, address: str) -> bool:
        if address in self.exempt:
            return True
        ip = ipaddress.ip_address(address)
        return ip.is_multicast or any(ip in net for net in LINK_LOCAL if net.version == ip.version)

    def in_vpc(self, address: str) -> bool:
        if address in self.by_address:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self.vpc_networks if net.version == ip.version)

    def service(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        for net, name in self.services:
            if net.version == ip.version and ip in net:
                return name
        return None
