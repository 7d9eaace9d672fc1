"""Interval deltas from cumulative conntrack counters, and the TCP flags they imply (no kernel)."""

from __future__ import annotations

import dataclasses

from cove.fabric.flowlogs.conntrack import TCP_CLOSE_INIT, CtEntry, CtTuple
from cove.fabric.flowlogs.ledger import Ledger

ESTABLISHED, FIN_WAIT, TIME_WAIT = 3, 4, 7


def tcp(counts: tuple[int, int, int, int], state: int = ESTABLISHED, *, id: int = 1, start: float = 100.0,
        stop: float | None = None, close_init: tuple[int, int] = (0, 0)) -> CtEntry:  # fmt: skip
    return CtEntry(
        id,
        CtTuple("10.0.1.10", "10.0.2.20", 40000, 80, 6),
        CtTuple("10.0.2.20", "10.0.1.10", 80, 40000, 6),
        *counts,
        start=start,
        stop=stop,
        tcp_state=state,
        tcp_flags_orig=close_init[0],
        tcp_flags_reply=close_init[1],
    )


def summary(ledger_result: list) -> list[tuple[int, int, int, int, int, int]]:  # type: ignore[type-arg]
    return [
        (d.orig_packets, d.orig_bytes, d.reply_packets, d.reply_bytes, d.orig_flags, d.reply_flags)
        for d in ledger_result
    ]


def test_each_interval_gets_only_its_own_packets() -> None:
    ledger = Ledger()
    ledger.baseline([])
    first = ledger.observe([tcp((3, 180, 2, 120))], 160.0)
    assert summary(first) == [(3, 180, 2, 120, 2, 18)]
    assert first[0].first == 100.0
    second = ledger.observe([tcp((5, 1180, 4, 220))], 220.0)
    assert summary(second) == [(2, 1000, 2, 100, 0, 0)]
    assert second[0].first is None
    assert ledger.observe([tcp((5, 1180, 4, 220))], 280.0) == []


def test_entries_present_at_baseline_count_from_there_and_are_not_new() -> None:
    ledger = Ledger()
    ledger.baseline([tcp((10, 1000, 10, 1000))])
    assert summary(ledger.observe([tcp((11, 1100, 10, 1000))], 160.0)) == [(1, 100, 0, 0, 0, 0)]


def test_a_destroyed_entry_counts_its_last_packets_once() -> None:
    ledger = Ledger()
    ledger.baseline([])
    ledger.observe([tcp((3, 180, 2, 120))], 160.0)
    final = tcp((6, 420, 4, 266), TIME_WAIT, stop=190.0)
    gone = ledger.destroyed(final, 200.0)
    assert gone is not None
    assert (gone.orig_packets, gone.reply_packets, gone.last) == (3, 2, 190.0)
    assert (gone.orig_flags, gone.reply_flags) == (1, 1)
    # A dump that raced the event still lists it: not counted again.
    assert ledger.observe([final], 220.0) == []
    assert ledger.destroyed(final, 221.0) is None


def test_a_flow_born_and_gone_between_two_dumps_still_counts() -> None:
    ledger = Ledger()
    ledger.baseline([])
    gone = ledger.destroyed(tcp((6, 420, 4, 266), TIME_WAIT, stop=150.0), 151.0)
    assert gone is not None
    assert summary([gone]) == [(6, 420, 4, 266, 3, 19)]


def test_fin_goes_to_the_direction_that_closed_first() -> None:
    ledger = Ledger()
    ledger.baseline([tcp((3, 180, 2, 120))])
    closing = tcp((4, 232, 2, 120), FIN_WAIT, close_init=(0, TCP_CLOSE_INIT))
    assert summary(ledger.observe([closing], 160.0)) == [(1, 52, 0, 0, 0, 1)]
    closed = dataclasses.replace(closing, reply_packets=3, reply_bytes=172, tcp_state=TIME_WAIT)
    assert summary(ledger.observe([closed], 220.0)) == [(0, 0, 1, 52, 1, 0)]


def test_an_entry_that_vanished_without_an_event_is_forgotten() -> None:
    ledger = Ledger()
    ledger.baseline([])
    ledger.observe([tcp((1, 60, 0, 0), id=1), tcp((1, 60, 0, 0), id=2)], 160.0)
    assert ledger.observe([tcp((2, 120, 0, 0), id=2)], 220.0)[0].entry.id == 2
    # If it ever came back (same id and tuple), it would be a new entry, not a negative delta.
    assert summary(ledger.observe([tcp((1, 60, 0, 0), id=1), tcp((2, 120, 0, 0), id=2)], 280.0)) == [
        (1, 60, 0, 0, 2, 0)
    ]
