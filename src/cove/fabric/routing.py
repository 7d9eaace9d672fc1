"""Route tables as kernel routing tables in the router namespace, selected per subnet.

Layout (IPv4):

* table `ENI_TABLE`, consulted first for every packet (rule `ENI_RULE_PRIORITY`): a /32 route per
  ENI address to that ENI's veth. Every AWS route table of the VPC has the `local` route, so an
  address that belongs to an ENI is reached the same way from everywhere.
* the kernel's `local` table (the router's own addresses) right after it (`LOCAL_RULE_PRIORITY`)
  instead of before every other rule: no ENI holds an address of the router (AWS reserves them
  in every subnet), so the order of the two changes no answer, and a packet between two ENIs, most
  of what the router forwards, costs one table lookup instead of two.
* one kernel table per AWS route table, selected by `from <subnet cidr>` rules: the table's
  routes as compiled (prefix lists already expanded, AWS's tie-breaks resolved), where `local`
  is a blackhole for the VPC CIDR (addresses no ENI holds go nowhere), gateways go to their
  namespace's veth when it exists, and anything else is a blackhole. A default blackhole ends
  every table so that a lookup never falls through to another table: no route means no path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cove.fabric import netns
from cove.fabric.names import Names
from cove.netmodel import VpcRouter

__all__ = [
    "ENI_RULE_PRIORITY",
    "ENI_TABLE",
    "LOCAL_RULE_PRIORITY",
    "GatewayLink",
    "desired_routes",
    "desired_rules",
    "sync_routing",
]

ENI_TABLE = 200
ENI_RULE_PRIORITY = 100
LOCAL_RULE_PRIORITY = 150
SUBNET_RULE_BASE = 1000
_DEFAULT_PRIORITIES = frozenset({32766, 32767})
"""The kernel's `main` and `default` rules, left as they are (the `local` rule at 0 is moved)."""


@dataclass(frozen=True, slots=True)
class GatewayLink:
    """Where the router sends a gateway's traffic: its veth, and the next hop on it if any."""

    interface: str
    via: str | None = None


def _route_key(destination: str, kind: str, device: str | None, via: str | None, table: int) -> str:
    dst = "default" if destination == "0.0.0.0/0" else destination.removesuffix("/32")
    return json.dumps([dst, kind, device, via, table])


def desired_routes(router: VpcRouter, gateways: Mapping[str, GatewayLink]) -> dict[str, str]:
    """key → the `ip route replace` command (without the leading `route replace`)."""
    routes: dict[str, str] = {}
    for attachment in router.attachments:
        device = Names.router_interface(attachment.eni_id)
        for address in attachment.addresses:
            if ":" in address:
                continue
            key = _route_key(address, "unicast", device, None, ENI_TABLE)
            routes[key] = f"{address} dev {device} scope link table {ENI_TABLE}"
    for table in router.routing_tables:
        has_default = False
        for route in table.routes:
            if ":" in route.destination:
                continue
            has_default = has_default or route.destination == "0.0.0.0/0"
            link = gateways.get(route.next_hop_id) if route.next_hop not in ("local", "blackhole") else None
            if link is None:
                key = _route_key(route.destination, "blackhole", None, None, table.table)
                routes[key] = f"blackhole {route.destination} table {table.table}"
            elif link.via:
                key = _route_key(route.destination, "unicast", link.interface, link.via, table.table)
                routes[key] = (
                    f"{route.destination} via {link.via} dev {link.interface} onlink table {table.table}"
                )
            else:
                key = _route_key(route.destination, "unicast", link.interface, None, table.table)
                routes[key] = f"{route.destination} dev {link.interface} scope link table {table.table}"
        if not has_default:
            key = _route_key("0.0.0.0/0", "blackhole", None, None, table.table)
            routes[key] = f"blackhole default table {table.table}"
    return routes


def desired_rules(router: VpcRouter) -> dict[str, str]:
    rules = {
        json.dumps([ENI_RULE_PRIORITY, "all", ENI_TABLE]): f"priority {ENI_RULE_PRIORITY} lookup {ENI_TABLE}",
        json.dumps([LOCAL_RULE_PRIORITY, "all", "local"]): f"priority {LOCAL_RULE_PRIORITY} lookup local",
    }
    for index, subnet in enumerate(sorted(router.subnets, key=lambda s: s.cidr)):
        if ":" in subnet.cidr:
            continue
        priority = SUBNET_RULE_BASE + index
        rules[json.dumps([priority, subnet.cidr, subnet.table])] = (
            f"priority {priority} from {subnet.cidr} lookup {subnet.table}"
        )
    return rules


def _current_routes(namespace: str) -> dict[str, str]:
    output = netns.run(namespace, ["ip", "-j", "-4", "route", "show", "table", "all"]).stdout
    current: dict[str, str] = {}
    for entry in json.loads(output or "[]"):
        table = entry.get("table", "main")
        if table in ("local", "main", "default") or not str(table).isdigit():
            continue
        kind = entry.get("type", "unicast")
        dst = entry["dst"]
        key = _route_key(dst, kind, entry.get("dev"), entry.get("gateway"), int(table))
        current[key] = f"{kind if kind != 'unicast' else ''} {dst} table {table}".strip()
    return current


def _current_rules(namespace: str) -> dict[str, str]:
    output = netns.run(namespace, ["ip", "-j", "-4", "rule", "show"]).stdout
    current: dict[str, str] = {}
    for entry in json.loads(output or "[]"):
        priority = int(entry["priority"])
        if priority in _DEFAULT_PRIORITIES:
            continue
        src = entry.get("src", "all")
        if src != "all" and "srclen" in entry:
            src = f"{src}/{entry['srclen']}"
        table = entry.get("table", "main")
        key = json.dumps([priority, src, int(table) if str(table).isdigit() else table])
        current[key] = f"priority {priority}" + (f" from {src}" if src != "all" else "") + f" lookup {table}"
    return current


def _place(key: str) -> tuple[str, int]:
    dst, _, _, _, table = json.loads(key)
    return dst, table


def sync_routing(namespace: str, router: VpcRouter, gateways: Mapping[str, GatewayLink]) -> int:
    """Make the namespace's rules and routes what the rule set says; returns the commands run."""
    want_rules, have_rules = desired_rules(router), _current_rules(namespace)
    want_routes, have_routes = desired_routes(router, gateways), _current_routes(namespace)
    wanted_places = {_place(key) for key in want_routes}
    # Fill tables, then point rules at them, then retire the old: a subnet is never without its table.
    commands = [f"route replace {route}" for key, route in want_routes.items() if key not in have_routes]
    commands += [f"rule add {rule}" for key, rule in want_rules.items() if key not in have_rules]
    commands += [f"rule del {rule}" for key, rule in have_rules.items() if key not in want_rules]
    # A route whose destination stays but whose target changed was replaced in place above.
    commands += [
        f"route del {route}"
        for key, route in have_routes.items()
        if key not in want_routes and _place(key) not in wanted_places
    ]
    if commands:
        netns.run(namespace, ["ip", "-batch", "-"], input="\n".join(commands) + "\n")
    return len(commands)
