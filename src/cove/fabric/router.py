"""One VPC in the kernel: its router namespace and the ENI namespaces joined to it.

Each ENI namespace holds `eth0` with the ENI's MAC and addresses (subnet prefix length) and a
default route to the subnet's router address (base+1). The other end of the veth lives in the
router namespace, holds base+1/32 and answers ARP for the rest of the subnet (proxy ARP with no
delay), so even two ENIs of one subnet talk through the router, where the rules are. It carries
the subnet's interface group (`subnet_group`), by which the router's NACL rules know the subnet. The veth is
created inside the router namespace with its peer placed straight into the ENI namespace: it is
never, even for a moment, in the host's namespace.

Everything here is idempotent: it reads what is there and changes only what differs.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from cove.fabric import netns
from cove.fabric.gateways import GatewayPlan, plan_gateways, sync_gateways
from cove.fabric.names import ROUTER_IF_PREFIX, Names, subnet_group
from cove.fabric.nftables import CREDENTIALS_ADDRESS, render_table
from cove.fabric.routing import sync_routing
from cove.netmodel import EniAttachment, VpcRouter

__all__ = ["RouterReconciler", "subnet_router_address"]

log = logging.getLogger("cove.fabric")

_ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.netfilter.nf_conntrack_acct": "1",
    "net.netfilter.nf_conntrack_timestamp": "1",
    # AWS's UDP stream timeout (the Linux default is 120 s).
    "net.netfilter.nf_conntrack_udp_timeout_stream": "180",
}
_ENI_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    # Unprivileged ICMP echo sockets, so `ping` works for processes without CAP_NET_RAW.
    "net.ipv4.ping_group_range": "0 2147483647",
}


def subnet_router_address(cidr: str) -> str:
    """The VPC router's address in a subnet: base+1, reserved by AWS in every subnet."""
    return str(ipaddress.ip_network(cidr).network_address + 1)


@dataclass
class RouterReconciler:
    names: Names
    applied_tables: dict[str, str] = field(default_factory=dict)
    """Router namespace → the nft script last applied (skip unchanged rule sets)."""
    applied_enis: dict[str, tuple[EniAttachment, str]] = field(default_factory=dict)
    """ENI namespace → what was last made true there; checked against the kernel once per run."""
    applied_gateways: dict[str, tuple[object, list[str]]] = field(default_factory=dict)
    """Router namespace → what its gateways were built from, and their namespaces."""
    applied_routers: dict[str, VpcRouter] = field(default_factory=dict)
    """Router namespace → the router last made true there in full."""

    def apply(self, router: VpcRouter, full: bool = True) -> list[str]:
        """Make the VPC's namespaces true; returns the gateway namespaces it also owns. Unless
        `full`, a router equal to the one last applied is taken as still true when its namespace
        is there: the kernel is not read again (each read is a process), since what changed was
        another VPC. A full apply reads and mends everything (start-up, the periodic resync)."""
        namespace = self.names.router(router.vpc_id)
        if not full and self.applied_routers.get(namespace) == router and netns.exists(namespace):
            return self.applied_gateways[namespace][1]
        self.applied_routers.pop(namespace, None)
        if netns.create(namespace):
            self.applied_tables.pop(namespace, None)
            self.applied_gateways.pop(namespace, None)
            for key, value in _ROUTER_SYSCTLS.items():
                netns.write_sysctl(namespace, key, value)
        self._router_addresses(namespace, router)
        subnets = {s.subnet_id: s.cidr for s in router.subnets}
        plan = plan_gateways(router)
        keep = set(plan.endpoint_interfaces.values()) | (
            {plan.igw_interface} if plan.igw_interface else set()
        )
        self._attachments(namespace, router.attachments, subnets, keep)
        owned = self._gateways(namespace, router, plan)
        sync_routing(namespace, router, plan.links)
        script = render_table(router, [(CREDENTIALS_ADDRESS, 6, 80)], plan)
        if self.applied_tables.get(namespace) != script:
            netns.run(namespace, ["nft", "-f", "-"], input=script)
            self.applied_tables[namespace] = script
        self.applied_routers[namespace] = router
        return owned

    def _gateways(self, namespace: str, router: VpcRouter, plan: GatewayPlan) -> list[str]:
        """Gateways are rebuilt only when what they are made from changed (or a namespace of
        theirs went away): a reconcile pass must not flush the internet's return routes."""
        basis = (plan, router.gateways, router.routing_tables, router.cidrs, router.attachments)
        applied = self.applied_gateways.get(namespace)
        if applied is not None and applied[0] == basis and all(netns.exists(n) for n in applied[1]):
            return applied[1]
        owned = sync_gateways(self.names, router, plan)
        self.applied_gateways[namespace] = (basis, owned)
        return owned

    def _router_addresses(self, namespace: str, router: VpcRouter) -> None:
        wanted = [CREDENTIALS_ADDRESS]
        wanted += [e.address for e in router.exemptions if ":" not in e.address]
        have = _addresses(namespace, "lo")
        commands = [f"address add {a}/32 dev lo" for a in sorted(set(wanted)) if a not in have]
        if commands:
            netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")

    def _attachments(
        self,
        namespace: str,
        attachments: tuple[EniAttachment, ...],
        subnets: dict[str, str],
        keep: set[str],
    ) -> None:
        links = _links(namespace)
        wanted = {Names.router_interface(a.eni_id): a for a in attachments}
        stale = [
            name
            for name in links
            if name.startswith(ROUTER_IF_PREFIX) and name not in wanted and name not in keep
        ]
        commands = [f"link del {name}" for name in stale]
        created: list[str] = []
        fresh: set[str] = set()
        for name, attachment in wanted.items():
            eni_ns = self.names.eni(attachment.eni_id)
            if netns.create(eni_ns):
                fresh.add(eni_ns)  # only lo inside: nothing to look up there
                self.applied_enis.pop(eni_ns, None)
                for key, value in _ENI_SYSCTLS.items():
                    netns.write_sysctl(eni_ns, key, value)
            group = subnet_group(subnets[attachment.subnet_id])
            if name not in links:
                self.applied_enis.pop(eni_ns, None)
                if eni_ns not in fresh and "eth0" in _links(eni_ns):
                    netns.run(eni_ns, ["ip", "link", "del", "eth0"])
                commands.append(f"link add {name} group {group} type veth peer name eth0 netns {eni_ns}")
                created.append(name)
            elif links[name].get("group") != str(group):
                # A veth made before the router's rules told subnets apart by interface group.
                commands.append(f"link set {name} group {group}")
        if commands:
            netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")
        for name in created:
            netns.write_sysctl(namespace, f"net.ipv4.conf.{name}.proxy_arp", "1")
            netns.write_sysctl(namespace, f"net.ipv4.neigh.{name}.proxy_delay", "0")
        router_side: list[str] = []
        for name, attachment in wanted.items():
            gateway = subnet_router_address(subnets[attachment.subnet_id])
            if name in created or (
                self.applied_enis.get(self.names.eni(attachment.eni_id)) is None
                and gateway not in _addresses(namespace, name)
            ):
                router_side += [f"address replace {gateway}/32 dev {name}", f"link set {name} up"]
            eni_ns = self.names.eni(attachment.eni_id)
            if self.applied_enis.get(eni_ns) != (attachment, gateway):
                # A peer made just now is down, without addresses, its MAC random: known, not asked.
                known = _Link({}, None, False) if name in created else None
                self._eni_side(attachment, subnets[attachment.subnet_id], gateway, known)
                self.applied_enis[eni_ns] = (attachment, gateway)
        if router_side:
            netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(router_side) + "\n")

    def _eni_side(
        self, attachment: EniAttachment, subnet_cidr: str, gateway: str, known: _Link | None = None
    ) -> None:
        eni_ns = self.names.eni(attachment.eni_id)
        prefix = ipaddress.ip_network(subnet_cidr).prefixlen
        want = [a.split("/")[0] for a in attachment.addresses if ":" not in a]
        detail = known if known is not None else _link_detail(eni_ns, "eth0")
        have = detail.addresses
        commands = [f"address del {a}/{have[a]} dev eth0" for a in have if a not in want]
        commands += [f"address add {a}/{prefix} dev eth0" for a in want if a not in have]
        if attachment.mac and detail.mac != attachment.mac.lower():
            commands.insert(0, f"link set eth0 address {attachment.mac.lower()}")
        if not detail.up:
            commands.append("link set eth0 up")
        if commands or not detail.up:
            commands.append(f"route replace default via {gateway} dev eth0 onlink")
        if commands:
            netns.run(eni_ns, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")


def _links(namespace: str) -> dict[str, dict[str, Any]]:
    output = netns.run(namespace, ["ip", "-j", "link", "show"]).stdout
    return {entry["ifname"]: entry for entry in json.loads(output or "[]")}


def _addresses(namespace: str, device: str) -> set[str]:
    return set(_link_detail(namespace, device).addresses)


@dataclass(frozen=True, slots=True)
class _Link:
    addresses: dict[str, int]
    mac: str | None
    up: bool


def _link_detail(namespace: str, device: str) -> _Link:
    output = netns.run(namespace, ["ip", "-j", "-4", "address", "show", "dev", device]).stdout
    entries = json.loads(output or "[]")
    if not entries:
        return _Link({}, None, False)
    entry = entries[0]
    return _Link(
        {info["local"]: int(info["prefixlen"]) for info in entry.get("addr_info", [])},
        entry.get("address"),
        "UP" in entry.get("flags", []),
    )
