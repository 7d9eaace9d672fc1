"""Per-interval packet and byte counts from cumulative conntrack counters.

Conntrack counters only grow, so each aggregation tick takes a dump and keeps, per entry, what it
had counted at the previous tick: the difference is that interval's traffic. An entry that ends
between two ticks reports its final counters in its DESTROY event (`destroyed`), so its last
packets still count, once: a later dump that still lists it (the dump raced the event) is ignored.

Conntrack does not record TCP flags per packet; the flags a flow-log record shows are derived
from what the entry reveals: a new entry means the initiator sent a SYN and (if anything came
back) the responder a SYN-ACK; the TCP state and the CLOSE_INIT flag say who sent a FIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cove.fabric.flowlogs.conntrack import TCP_CLOSE_INIT, CtEntry, CtTuple

__all__ = ["FlowDelta", "Ledger"]

_FIN, _SYN, _SYN_ACK = 1, 2, 18
_TCP_FIN_WAIT, _TCP_CLOSE_WAIT, _TCP_LAST_ACK, _TCP_TIME_WAIT, _TCP_CLOSE = 4, 5, 6, 7, 8
_GONE_MEMORY_S = 900.0

_Key = tuple[int, CtTuple]


@dataclass(frozen=True, slots=True)
class FlowDelta:
    """What one conntrack entry carried during one interval."""

    entry: CtEntry
    orig_packets: int
    orig_bytes: int
    reply_packets: int
    reply_bytes: int
    first: float | None
    """When the interval's first packet was seen, if known (the entry started in the interval)."""
    last: float | None
    """When the interval's last packet was seen, if known (the entry ended in the interval)."""
    orig_flags: int = 0
    reply_flags: int = 0


@dataclass(slots=True)
class _Seen:
    counters: tuple[int, int, int, int]
    flags: tuple[int, int] = (0, 0)


def _fins(entry: CtEntry) -> tuple[bool, bool]:
    state = entry.tcp_state
    if state in (_TCP_LAST_ACK, _TCP_TIME_WAIT):
        return True, True
    if state in (_TCP_FIN_WAIT, _TCP_CLOSE_WAIT, _TCP_CLOSE):
        return bool(entry.tcp_flags_orig & TCP_CLOSE_INIT), bool(entry.tcp_flags_reply & TCP_CLOSE_INIT)
    return False, False


def _flags(entry: CtEntry, new: bool) -> tuple[int, int]:
    if entry.orig.protocol != 6:
        return 0, 0
    orig_fin, reply_fin = _fins(entry)
    orig = (_SYN if new else 0) | (_FIN if orig_fin else 0)
    reply = (_SYN_ACK if new and entry.reply_packets else 0) | (_FIN if reply_fin else 0)
    return orig, reply


def _counters(entry: CtEntry) -> tuple[int, int, int, int]:
    return (entry.orig_packets, entry.orig_bytes, entry.reply_packets, entry.reply_bytes)


@dataclass(slots=True)
class Ledger:
    _seen: dict[_Key, _Seen] = field(default_factory=dict)
    _gone: dict[_Key, float] = field(default_factory=dict)

    def baseline(self, entries: list[CtEntry]) -> None:
        """Count from here on: what the entries carried before is not this collector's business."""
        self._seen = {e.key: _Seen(_counters(e), _flags(e, True)) for e in entries}

    def _delta(self, entry: CtEntry, final: bool) -> FlowDelta | None:
        seen = self._seen.get(entry.key)
        new = seen is None
        before = seen.counters if seen is not None else (0, 0, 0, 0)
        now = _counters(entry)
        op, ob, rp, rb = (max(0, a - b) for a, b in zip(now, before, strict=True))
        orig_flags, reply_flags = _flags(entry, new)
        reported = seen.flags if seen is not None else (0, 0)
        fresh = (orig_flags & ~reported[0], reply_flags & ~reported[1])
        if not final:
            self._seen[entry.key] = _Seen(now, (reported[0] | orig_flags, reported[1] | reply_flags))
        if not (op or rp or any(fresh)):
            return None
        return FlowDelta(
            entry,
            op,
            ob,
            rp,
            rb,
            first=entry.start if new else None,
            last=entry.stop if final else None,
            orig_flags=fresh[0],
            reply_flags=fresh[1],
        )

    def observe(self, entries: list[CtEntry], now: float) -> list[FlowDelta]:
        """The interval's deltas of a fresh dump; entries gone from it without an event are forgotten."""
        for key, when in list(self._gone.items()):
            if now - when > _GONE_MEMORY_S:
                del self._gone[key]
        deltas: list[FlowDelta] = []
        present: set[_Key] = set()
        for entry in entries:
            if entry.key in self._gone:
                continue
            present.add(entry.key)
            delta = self._delta(entry, final=False)
            if delta is not None:
                deltas.append(delta)
        for key in [k for k in self._seen if k not in present]:
            del self._seen[key]
        return deltas

    def destroyed(self, entry: CtEntry, now: float) -> FlowDelta | None:
        """The last packets of an entry that ended (from its DESTROY event)."""
        if entry.key in self._gone:
            return None
        delta = self._delta(entry, final=True)
        self._seen.pop(entry.key, None)
        self._gone[entry.key] = now
        return delta
