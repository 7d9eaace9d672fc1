"""What lies beyond a VPC router: the simulated internet, internet gateways, NAT gateways and
gateway endpoints, each reached over its own veth from the router namespace.

* The **internet namespace** (one per state directory) owns 203.0.113.0/24 (test hosts) and
  198.18.0.0/16 (AWS's public service addresses) as "any IP" local routes, so a listener on
  0.0.0.0 there answers for every address in them. It is linked to each VPC router that has an
  attached internet gateway and routes the VPC's public addresses back over that link.
* An **internet gateway** is the router side of that link plus 1:1 NAT between each public IP and
  its private address (DNAT in, SNAT out); a packet from an address without a public IP does not
  leave, as in AWS.
* A **NAT gateway** is an ENI namespace of its subnet that forwards and masquerades to its own
  private address; its Elastic IP comes from the internet gateway's 1:1 NAT.
* A **gateway endpoint** is a namespace owning its service's prefix-list blocks as local
  addresses, where Cove's service listens; the router routes the prefix list there. It carries
  TCP and ICMP echo only.

Point-to-point links use 169.254.0.1 (router side) and 169.254.0.2 (far side), which never leave
their link.
"""

from __future__ import annotations

from dataclasses import dataclass

from cove.fabric import netns
from cove.fabric.names import Names
from cove.fabric.routing import GatewayLink
from cove.netmodel import VpcRouter

__all__ = [
    "INTERNET_BLOCKS",
    "LINK_FAR",
    "LINK_NEAR",
    "GatewayPlan",
    "ensure_internet",
    "plan_gateways",
    "sync_gateways",
]

LINK_NEAR = "169.254.0.1"
LINK_FAR = "169.254.0.2"
# 198.19.0.0/16 (Elastic IPs) stays routable: replies to a VPC's public addresses must leave.
INTERNET_BLOCKS = ("203.0.113.0/24", "198.18.0.0/16")


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    links: dict[str, GatewayLink]
    """Route target id (igw-…, nat-…, vpce-…) → where the router sends it."""
    public: dict[str, str]
    """Private address → public address (ENI public IPs and NAT gateway Elastic IPs)."""
    igw_interface: str | None
    endpoint_interfaces: dict[str, str]
    """Gateway endpoint id → router-side interface."""
    nat_interfaces: dict[str, str]
    """NAT gateway id → its ENI's router-side interface."""


def plan_gateways(router: VpcRouter) -> GatewayPlan:
    links: dict[str, GatewayLink] = {}
    public: dict[str, str] = {}
    igw_interface: str | None = None
    endpoints: dict[str, str] = {}
    nats: dict[str, str] = {}
    owner = {a.split("/")[0]: att.eni_id for att in router.attachments for a in att.addresses}
    for attachment in router.attachments:
        if attachment.public_ip:
            public[attachment.addresses[0].split("/")[0]] = attachment.public_ip
    for gateway in router.gateways:
        if gateway.kind == "igw":
            igw_interface = Names.router_interface(gateway.gateway_id)
            links[gateway.gateway_id] = GatewayLink(igw_interface, LINK_FAR)
        elif gateway.kind == "nat" and gateway.address and gateway.address in owner:
            interface = Names.router_interface(owner[gateway.address])
            links[gateway.gateway_id] = GatewayLink(interface, gateway.address)
            nats[gateway.gateway_id] = interface
            if gateway.public_ip:
                public[gateway.address] = gateway.public_ip
        elif gateway.kind == "gateway-endpoint":
            interface = Names.router_interface(gateway.gateway_id)
            links[gateway.gateway_id] = GatewayLink(interface, LINK_FAR)
            endpoints[gateway.gateway_id] = interface
    return GatewayPlan(links, public, igw_interface, endpoints, nats)


def ensure_internet(names: Names) -> str:
    namespace = names.internet()
    if netns.create(namespace):
        netns.write_sysctl(namespace, "net.ipv6.conf.all.disable_ipv6", "1")
        netns.write_sysctl(namespace, "net.ipv4.ping_group_range", "0 2147483647")
        commands = [f"route replace local {block} dev lo" for block in INTERNET_BLOCKS]
        netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")
    return namespace


def _link(router_ns: str, near: str, far_ns: str, far: str) -> None:
    """A veth from the router to another Cove namespace, 169.254.0.1 ↔ 169.254.0.2 (idempotent)."""
    if netns.run(router_ns, ["ip", "link", "show", near], check=False).returncode == 0:
        return
    netns.run(far_ns, ["ip", "link", "del", far], check=False)
    netns.run(router_ns, ["ip", "link", "add", near, "type", "veth", "peer", "name", far, "netns", far_ns])
    netns.write_sysctl(router_ns, f"net.ipv4.conf.{near}.proxy_arp", "1")
    netns.write_sysctl(router_ns, f"net.ipv4.neigh.{near}.proxy_delay", "0")
    netns.run(
        router_ns,
        ["ip", "-batch", "-"],
        input=f"address replace {LINK_NEAR}/32 dev {near}\nlink set {near} up\n",
    )
    netns.run(
        far_ns, ["ip", "-batch", "-"], input=f"address replace {LINK_FAR}/32 dev {far}\nlink set {far} up\n"
    )


def sync_gateways(names: Names, router: VpcRouter, plan: GatewayPlan) -> list[str]:
    """Create the gateways' namespaces and links; returns the namespaces that belong to them."""
    router_ns = names.router(router.vpc_id)
    owned: list[str] = []
    if plan.igw_interface is not None:
        internet = ensure_internet(names)
        owned.append(internet)
        far = "x" + plan.igw_interface[1:]
        _link(router_ns, plan.igw_interface, internet, far)
        routes = [
            f"route replace {p}/32 via {LINK_NEAR} dev {far} onlink" for p in sorted(plan.public.values())
        ]
        netns.run(internet, ["ip", "-batch", "-"], input="\n".join(routes) + "\n" if routes else "\n")
    for endpoint_id, interface in plan.endpoint_interfaces.items():
        namespace = names.endpoint(endpoint_id)
        owned.append(namespace)
        if netns.create(namespace):
            netns.write_sysctl(namespace, "net.ipv6.conf.all.disable_ipv6", "1")
        _link(router_ns, interface, namespace, "eth0")
        blocks = [
            r.destination for t in router.routing_tables for r in t.routes if r.next_hop_id == endpoint_id
        ]
        commands = [f"route replace local {b} dev lo" for b in sorted(set(blocks)) if ":" not in b]
        commands += [
            f"route replace {c} via {LINK_NEAR} dev eth0 onlink" for c in router.cidrs if ":" not in c
        ]
        netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")
    for nat_id in plan.nat_interfaces:
        gateway = next(g for g in router.gateways if g.gateway_id == nat_id)
        eni_id = next(a.eni_id for a in router.attachments if a.addresses[0].split("/")[0] == gateway.address)
        nat_ns = names.eni(eni_id)
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.eth0.send_redirects", "0"),
            ("net.ipv4.conf.all.rp_filter", "0"),
        ):
            netns.write_sysctl(nat_ns, key, value)
        low, high = gateway.source_ports or (1024, 65535)
        script = (
            "add table ip cove_nat\ndelete table ip cove_nat\ntable ip cove_nat {\n"
            "  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    oifname eth0 ip saddr != {gateway.address} meta l4proto {{ tcp, udp }} masquerade to :{low}-{high}\n"
            f"    oifname eth0 ip saddr != {gateway.address} masquerade\n  }}\n}}\n"
        )
        netns.run(nat_ns, ["nft", "-f", "-"], input=script)
    return owned
