"""Turn one interval's conntrack deltas and logged drops into per-ENI flow records.

Accepted traffic (conntrack): an entry between two ENIs of the VPC gives records on both — egress
on the initiator and ingress on the responder for the request direction, the reverse for the
reply direction; an entry with only one ENI end gives records on that end only.

Rejected traffic (NFLOG): the drop rule's prefix `<component>|<layer>|<rule>` names who dropped:
`sg-*` layers name the ENI itself; `nacl-outbound` drops belong to the sending ENI and
`nacl-inbound` drops to the receiving one, found by address or else by router interface. A packet
refused by the receiver's NACL or security group had already been let out by the sender's NACL and
security group (the router checks the sending side first), so the sender (when it is an ENI here)
records it as an accepted egress packet, as each ENI's log does in AWS.

Conntrack counts a packet before the forward chain decides, so a packet of a known connection that
a stateless NACL rule then drops is in both sources; it is taken out of the accepted counts.

Traffic to or from exempt addresses (router-local services, link-local) is never recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cove.fabric.flowlogs.inventory import EniInfo, Inventory
from cove.fabric.flowlogs.ledger import FlowDelta
from cove.fabric.flowlogs.nflog import LoggedPacket
from cove.fabric.flowlogs.records import FlowRecord, aws_tcp_flags

__all__ = ["TrafficPath", "attribute", "merge"]

TrafficPath = Callable[[EniInfo, str], str]
"""(sending ENI, destination address) → the traffic-path value of an egress record."""

_Tuple = tuple[str, str, int, int, int]


@dataclass(slots=True)
class _Pool:
    """Rejected packets per packet tuple, to take out of conntrack's counts."""

    counts: dict[_Tuple, list[int]]

    def take(self, candidates: Iterable[_Tuple], packets: int, size: int) -> tuple[int, int]:
        for key in candidates:
            held = self.counts.get(key)
            if held is None or held[0] == 0:
                continue
            n = min(held[0], packets)
            b = min(held[1], size)
            held[0] -= n
            held[1] -= b
            packets -= n
            size -= b
        return packets, size


def _default_path(inventory: Inventory) -> TrafficPath:
    return lambda eni, dst: "1" if inventory.in_vpc(dst) else "-"


class _Builder:
    def __init__(self, inventory: Inventory, path: TrafficPath | None) -> None:
        self.inventory = inventory
        self.path = path or _default_path(inventory)
        self.records: list[FlowRecord] = []

    def add(
        self,
        eni: EniInfo,
        direction: str,
        action: str,
        header: _Tuple,
        packets: int,
        size: int,
        start: float,
        end: float,
        flags: int,
    ) -> None:
        if packets <= 0:
            return
        src, dst, sport, dport, protocol = header
        self.records.append(
            FlowRecord(
                eni_id=eni.eni_id,
                direction=direction,
                action=action,
                protocol=protocol,
                pkt_src=src,
                pkt_dst=dst,
                sport=sport,
                dport=dport,
                packets=packets,
                bytes=max(size, 0),
                start=int(start),
                end=int(max(start, end)),
                tcp_flags=flags if protocol == 6 else 0,
                traffic_path=self.path(eni, dst) if direction == "egress" else "-",
                pkt_src_service=self.inventory.service(src),
                pkt_dst_service=self.inventory.service(dst),
            )
        )


def _reject_owner(
    inventory: Inventory, logged: LoggedPacket, names: dict[int, str]
) -> tuple[EniInfo, str] | None:
    component, _, rest = logged.prefix.partition("|")
    layer = rest.partition("|")[0]
    p = logged.packet
    by_if = inventory.by_interface
    if layer in ("sg-egress", "sg-ingress"):
        eni = inventory.enis.get(component) or inventory.by_address.get(
            p.src if layer == "sg-egress" else p.dst
        )
        return (eni, "egress" if layer == "sg-egress" else "ingress") if eni else None
    if layer == "nacl-outbound":
        eni = inventory.by_address.get(p.src) or by_if.get(names.get(logged.indev, ""))
        return (eni, "egress") if eni else None
    if layer == "nacl-inbound":
        eni = inventory.by_address.get(p.dst) or by_if.get(names.get(logged.outdev, ""))
        return (eni, "ingress") if eni else None
    # An unknown layer: the component if it is an ENI, else whichever end is one.
    eni = inventory.enis.get(component)
    if eni is not None:
        return eni, "egress" if inventory.by_address.get(p.src) is eni else "ingress"
    if p.src in inventory.by_address:
        return inventory.by_address[p.src], "egress"
    if p.dst in inventory.by_address:
        return inventory.by_address[p.dst], "ingress"
    return None


def _exempt(inventory: Inventory, *addresses: str) -> bool:
    return any(inventory.is_exempt(a) for a in addresses)


def attribute(
    inventory: Inventory,
    deltas: Iterable[FlowDelta],
    rejects: Iterable[LoggedPacket],
    window: tuple[float, float],
    *,
    interface_names: dict[int, str] | None = None,
    traffic_path: TrafficPath | None = None,
) -> list[FlowRecord]:
    """One interval's records, one per ENI, direction, action and packet 5-tuple (not yet merged)."""
    begin, finish = window
    names = interface_names or {}
    out = _Builder(inventory, traffic_path)
    pool = _Pool({})
    for logged in rejects:
        p = logged.packet
        if _exempt(inventory, p.src, p.dst):
            continue
        header = (p.src, p.dst, p.sport, p.dport, p.protocol)
        held = pool.counts.setdefault(header, [0, 0])
        held[0] += 1
        held[1] += p.length
        owner = _reject_owner(inventory, logged, names)
        if owner is None:
            continue
        eni, direction = owner
        flags = aws_tcp_flags(p.tcp_flags)
        out.add(eni, direction, "REJECT", header, 1, p.length, logged.time, logged.time, flags)
        sender = inventory.by_address.get(p.src)
        # The receiver's NACL and security group come after the sender's checks in the router.
        receiver_side = logged.prefix.split("|")[1:2] in (["sg-ingress"], ["nacl-inbound"])
        if receiver_side and sender is not None and sender is not eni:
            out.add(sender, "egress", "ACCEPT", header, 1, p.length, logged.time, logged.time, flags)

    for d in deltas:
        o, r = d.entry.orig, d.entry.reply
        if _exempt(inventory, o.src, o.dst, r.src, r.dst):
            continue
        proto = o.protocol
        forward = (o.src, o.dst, o.sport, o.dport, proto)
        backward = (r.src, r.dst, r.sport, r.dport, proto)
        op, ob = pool.take((forward, (o.src, r.src, o.sport, r.sport, proto)), d.orig_packets, d.orig_bytes)
        rp, rb = pool.take(
            (backward, (r.src, o.src, r.sport, o.sport, proto)), d.reply_packets, d.reply_bytes
        )
        start = max(begin, d.first) if d.first is not None else begin
        end = min(finish, d.last) if d.last is not None else finish
        initiator = inventory.by_address.get(o.src)
        responder = inventory.by_address.get(r.src)
        if initiator is not None:
            out.add(initiator, "egress", "ACCEPT", forward, op, ob, start, end, d.orig_flags)
            seen_back = (o.dst, o.src, o.dport, o.sport, proto)
            out.add(initiator, "ingress", "ACCEPT", seen_back, rp, rb, start, end, d.reply_flags)
        if responder is not None and responder is not initiator:
            seen_forth = (r.dst, r.src, r.dport, r.sport, proto)
            out.add(responder, "ingress", "ACCEPT", seen_forth, op, ob, start, end, d.orig_flags)
            out.add(responder, "egress", "ACCEPT", backward, rp, rb, start, end, d.reply_flags)
    return out.records


def merge(records: Iterable[FlowRecord]) -> list[FlowRecord]:
    """One record per ENI, direction, action and 5-tuple: counts add up, times widen, flags OR."""
    merged: dict[tuple[object, ...], FlowRecord] = {}
    for rec in records:
        key = (
            rec.eni_id,
            rec.direction,
            rec.action,
            rec.protocol,
            rec.pkt_src,
            rec.pkt_dst,
            rec.sport,
            rec.dport,
        )
        have = merged.get(key)
        if have is None:
            merged[key] = rec
            continue
        merged[key] = FlowRecord(
            eni_id=rec.eni_id,
            direction=rec.direction,
            action=rec.action,
            protocol=rec.protocol,
            pkt_src=rec.pkt_src,
            pkt_dst=rec.pkt_dst,
            sport=rec.sport,
            dport=rec.dport,
            packets=have.packets + rec.packets,
            bytes=have.bytes + rec.bytes,
            start=min(have.start, rec.start),
            end=max(have.end, rec.end),
            tcp_flags=have.tcp_flags | rec.tcp_flags,
            traffic_path=have.traffic_path,
            pkt_src_service=have.pkt_src_service,
            pkt_dst_service=have.pkt_dst_service,
        )
    return sorted(
        merged.values(), key=lambda r: (r.start, r.eni_id, r.direction, r.action, r.pkt_src, r.sport)
    )
