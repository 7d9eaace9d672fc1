"""A small VPC router built by hand for the flow-log kernel tests.

Shaped like the fabric's: one router namespace, each ENI its own namespace joined by a routed /32
veth created inside the namespaces (router side `v<crc32>`, proxy ARP without delay, the subnet's
base+1 as a /32; ENI side `eth0` with the subnet prefix and a default route via base+1), and an
`inet cove` table whose drop rules log to NFLOG with `<component>|<layer>|<rule>` prefixes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cove.fabric import netns
from cove.fabric.flowlogs import EniInfo
from cove.fabric.names import Names

__all__ = ["Eni", "Topology"]

T = TypeVar("T")


@dataclass
class Eni:
    eni_id: str
    namespace: str
    address: str
    prefix: int
    gateway: str
    subnet_id: str
    interface: str
    secondary: tuple[str, ...] = ()

    def info(self, vpc_id: str, account_id: str) -> EniInfo:
        return EniInfo(
            eni_id=self.eni_id,
            primary_address=self.address,
            addresses=(f"{self.address}/32", *(f"{a}/32" for a in self.secondary)),
            router_interface=self.interface,
            subnet_id=self.subnet_id,
            vpc_id=vpc_id,
            instance_id=None,
            account_id=account_id,
            region="us-east-1",
            az_id="use1-az1",
        )


@dataclass
class Topology:
    tag: str
    router: str = ""
    enis: dict[str, Eni] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.router = f"cvtfl{self.tag}-r"

    def namespaces(self) -> list[str]:
        return [self.router, *(e.namespace for e in self.enis.values())]

    def build_router(self) -> None:
        # A crashed earlier run with the same tag may have left namespaces of ours behind.
        for leftover in netns.listing(f"cvtfl{self.tag}-"):
            netns.remove(leftover)
        netns.create(self.router)
        netns.write_sysctl(self.router, "net.ipv4.ip_forward", "1")

    def add_eni(self, name: str, eni_id: str, address: str, prefix: int, gateway: str, subnet_id: str) -> Eni:
        eni = Eni(
            eni_id,
            f"cvtfl{self.tag}-{name}",
            address,
            prefix,
            gateway,
            subnet_id,
            Names.router_interface(eni_id),
        )
        self.enis[name] = eni
        netns.create(eni.namespace)
        r, n, v = self.router, eni.namespace, eni.interface
        # Both ends are created inside namespaces we own; nothing touches the host namespace.
        netns.run(r, ["ip", "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", n])
        netns.run(r, ["ip", "link", "set", v, "up"])
        netns.run(r, ["ip", "addr", "add", f"{gateway}/32", "dev", v])
        netns.run(r, ["ip", "route", "add", f"{address}/32", "dev", v])
        netns.write_sysctl(r, f"net.ipv4.conf.{v}.proxy_arp", "1")
        netns.write_sysctl(r, f"net.ipv4.neigh.{v}.proxy_delay", "0")
        netns.run(n, ["ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0"])
        netns.run(n, ["ip", "link", "set", "eth0", "up"])
        netns.run(n, ["ip", "route", "add", "default", "via", gateway])
        return eni

    def add_secondary(self, name: str, address: str) -> None:
        eni = self.enis[name]
        eni.secondary = (*eni.secondary, address)
        netns.run(eni.namespace, ["ip", "addr", "add", f"{address}/{eni.prefix}", "dev", "eth0"])
        netns.run(self.router, ["ip", "route", "add", f"{address}/32", "dev", eni.interface])

    def load_table(self, script: str) -> None:
        netns.run(self.router, ["nft", "-f", "-"], input=script)
        # Per-namespace, and only there once conntrack is in use in the namespace.
        netns.write_sysctl(self.router, "net.netfilter.nf_conntrack_acct", "1")
        netns.write_sysctl(self.router, "net.netfilter.nf_conntrack_timestamp", "1")

    def inside(self, name: str, body: Callable[[], T]) -> T:
        namespace = self.router if name == "router" else self.enis[name].namespace
        with netns.entered(namespace):
            return body()

    def remove(self) -> None:
        """Remove every namespace, even when one of them resists (the first error is raised)."""
        errors: list[Exception] = []
        for namespace in self.namespaces():
            try:
                netns.remove(namespace)
            except netns.NamespaceError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def unique_tag() -> str:
    return f"{os.getpid() % 10000:04d}"
