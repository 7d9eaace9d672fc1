"""Names of Cove's kernel objects, and the constants the fabric's parts agree on.

Every namespace a Cove state directory owns starts with `cv<tag>-`, where the tag is derived from
the state directory, so two servers (or a test session beside a user's server) never touch each
other's namespaces and `cove gc` can tell what is its own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import zlib
from pathlib import Path

__all__ = [
    "NFLOG_GROUP",
    "NFT_TABLE",
    "ROUTER_IF_PREFIX",
    "Names",
    "fabric_tag",
    "subnet_group",
]

NFT_TABLE = "cove"
"""The nftables table (family inet) in each router namespace."""

NFLOG_GROUP = 100
"""Every drop rule logs to this NFLOG group in the router namespace (flow-log REJECT records).
The log prefix is `<component>|<layer>|<rule>` as `netmodel.ruleset` defines it."""

ROUTER_IF_PREFIX = "v"


def subnet_group(cidr: str) -> int:
    """The interface group of the router's veths to a subnet's ENIs: the subnet's network address
    as a number, without its last 4 bits (a subnet is a /28 at the smallest, so they are always 0;
    iproute2 takes groups below 2**31 only, and 172.31.0.0/16, the default VPC's, is above). Subnets
    of one VPC never share it, and it is never 0, the group of every other link (gateways), so the
    router's rules tell a subnet's ENIs apart with one compare."""
    return int(ipaddress.IPv4Network(cidr, strict=False).network_address) >> 4


def fabric_tag(state_dir: Path) -> str:
    """Four hex digits naming one state directory's kernel objects."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:4]


class Names:
    """Namespace and interface names for one state directory."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.prefix = f"cv{tag}-"

    def router(self, vpc_id: str) -> str:
        return f"{self.prefix}{vpc_id}"

    def eni(self, eni_id: str) -> str:
        return f"{self.prefix}{eni_id}"

    def endpoint(self, endpoint_id: str) -> str:
        return f"{self.prefix}{endpoint_id}"

    def internet(self) -> str:
        return f"{self.prefix}internet"

    def owns(self, namespace: str) -> bool:
        return namespace.startswith(self.prefix)

    @staticmethod
    def router_interface(component_id: str) -> str:
        """The router-side veth of an ENI or gateway (15 characters at most, unique per router)."""
        return f"{ROUTER_IF_PREFIX}{zlib.crc32(component_id.encode()):08x}"
