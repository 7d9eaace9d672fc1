"""`FlowLogCollector`: the flow logs of one VPC router namespace, interval by interval.

Three sockets live in the router namespace: the NFLOG group every drop rule logs to (REJECT
records), conntrack DESTROY events (the final counters of flows that end) and a conntrack socket
for the dump taken at each tick (ACCEPT records). A reader thread drains the first two as packets
arrive; a ticker thread closes an aggregation interval every `interval_s` (or sooner, when a flow
log asks for a shorter maximum aggregation interval) and hands each flow log's lines for each of
its ENIs to the sink. An ENI without traffic in an interval gets a NODATA record; when the kernel
dropped log messages (socket overrun) every logged ENI gets a SKIPDATA record, as AWS does when
it cannot capture everything.
"""

from __future__ import annotations

import errno
import logging
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from cove.fabric import netns
from cove.fabric.flowlogs import conntrack, nflog
from cove.fabric.flowlogs.attribution import TrafficPath, attribute, merge
from cove.fabric.flowlogs.inventory import EniInfo, FlowLogSpec, Inventory, bare_address
from cove.fabric.flowlogs.ledger import FlowDelta, Ledger
from cove.fabric.flowlogs.nflog import LoggedPacket
from cove.fabric.flowlogs.records import FlowRecord, LogFormat, status_record
from cove.fabric.names import NFLOG_GROUP

__all__ = ["FlowLogCollector", "Sink"]

Sink = Callable[[str, str, list[tuple[int, str]]], None]
"""sink(flow_log_id, eni_id, [(timestamp_ms, line), …]) — lines in time order."""

_log = logging.getLogger(__name__)
_POLL_S = 0.5


class FlowLogCollector:
    def __init__(
        self,
        namespace: str,
        sink: Sink,
        interval_s: float = 60.0,
        *,
        exempt: Iterable[str] = (),
        group: int = NFLOG_GROUP,
    ) -> None:
        """`exempt`: addresses whose traffic is never recorded (the resolver at VPC base+2, the
        credentials endpoint…); the router's own addresses and link-local ones always are."""
        self.namespace = namespace
        self.sink = sink
        self.interval_s = interval_s
        self.group = group
        self._exempt = frozenset(bare_address(a) for a in exempt)
        self._inventory = Inventory.build((), exempt=self._exempt)
        self._specs: list[tuple[FlowLogSpec, LogFormat]] = []
        self._traffic_path: TrafficPath | None = None
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._ledger = Ledger()
        self._rejects: list[LoggedPacket] = []
        self._destroyed: list[FlowDelta] = []
        self._skipped = False
        self._window_start = time.time()
        self._sockets: dict[str, socket.socket] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- configuration -------------------------------------------------------------------------

    def update(
        self,
        enis: Iterable[EniInfo],
        specs: Iterable[FlowLogSpec],
        *,
        vpc_cidrs: Iterable[str] = (),
        aws_services: Mapping[str, str] | None = None,
        traffic_path: TrafficPath | None = None,
    ) -> None:
        """The VPC's ENIs and the flow logs over them, whenever either changes.

        `aws_services`: CIDR → name for pkt-src/dst-aws-service; `traffic_path`: the egress
        traffic-path value (default: 1 inside the VPC, `-` elsewhere)."""
        parsed = [(spec, LogFormat(spec.log_format)) for spec in specs]
        inventory = Inventory.build(enis, vpc_cidrs=vpc_cidrs, aws_services=aws_services, exempt=self._exempt)
        with self._lock:
            self._inventory = inventory
            self._specs = parsed
            self._traffic_path = traffic_path

    @property
    def window_start(self) -> float:
        """When the interval in progress began (Unix seconds)."""
        return self._window_start

    def window_s(self) -> float:
        """The aggregation interval in force: never longer than a flow log's maximum."""
        limits = [float(spec.max_aggregation_interval) for spec, _ in self._specs]
        return min([self.interval_s, *limits])

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        for key in ("net.netfilter.nf_conntrack_acct", "net.netfilter.nf_conntrack_timestamp"):
            try:
                netns.write_sysctl(self.namespace, key, "1")
            except OSError:
                _log.warning("%s: cannot set %s; accepted flows may lack counters", self.namespace, key)
        self._sockets = {
            "nflog": nflog.open_nflog(self.namespace, self.group),
            "events": conntrack.open_events(self.namespace),
            "dump": conntrack.open_dump_socket(self.namespace),
        }
        for name in ("nflog", "events"):
            self._sockets[name].setblocking(False)
        with self._lock:
            self._ledger.baseline(conntrack.dump(self._sockets["dump"]))
            self._window_start = time.time()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"flowlogs-read-{self.namespace}", daemon=True),
            threading.Thread(target=self._tick_loop, name=f"flowlogs-tick-{self.namespace}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, *, flush: bool = True) -> None:
        """Stop reading; by default the interval in progress is emitted first."""
        if not self._threads:
            return
        if flush:
            self.flush()
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        for sock in self._sockets.values():
            sock.close()
        self._sockets = {}

    # -- reading -------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Everything the kernel has queued on the two event sockets. Caller holds the lock."""
        for name, read in (("nflog", self._read_nflog), ("events", self._read_events)):
            sock = self._sockets.get(name)
            while sock is not None:
                try:
                    read(sock)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:
                        raise
                    # The kernel dropped messages: AWS's SKIPDATA.
                    self._skipped = True

    def _read_nflog(self, sock: socket.socket) -> None:
        self._rejects.extend(nflog.read_logged(sock))

    def _read_events(self, sock: socket.socket) -> None:
        now = time.time()
        for entry in conntrack.read_destroyed(sock):
            delta = self._ledger.destroyed(entry, now)
            if delta is not None:
                self._destroyed.append(delta)

    def _read_loop(self) -> None:
        watched = [self._sockets["nflog"], self._sockets["events"]]
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(watched, [], [], _POLL_S)
                if ready:
                    with self._lock:
                        self._drain()
            except Exception:
                _log.exception("flow logs: reading %s", self.namespace)
                self._stop.wait(_POLL_S)

    def _tick_loop(self) -> None:
        while not self._stop.wait(max(0.05, self._window_start + self.window_s() - time.time())):
            if time.time() >= self._window_start + self.window_s():
                try:
                    self.flush()
                except Exception:
                    _log.exception("flow logs: closing an interval of %s", self.namespace)

    # -- intervals -----------------------------------------------------------------------------

    def _router_addresses(self) -> set[str]:
        """The router namespace's own addresses: traffic to them never crosses the forward chain."""
        found = subprocess.run(
            ["ip", "-n", self.namespace, "-o", "addr", "show"], capture_output=True, text=True
        )
        addresses: set[str] = set()
        for line in found.stdout.splitlines():
            parts = line.split()
            if len(parts) > 3 and parts[2] in ("inet", "inet6"):
                addresses.add(bare_address(parts[3]))
        return addresses

    def _interface_names(self) -> dict[int, str]:
        with netns.entered(self.namespace):
            return {index: name for index, name in socket.if_nameindex()}

    def flush(self) -> None:
        """Close the interval in progress now and hand its records to the sink."""
        with self._flushing:
            local = self._router_addresses() if self._sockets else set()
            names = self._interface_names() if self._sockets else {}
            with self._lock:
                now = time.time()
                if self._sockets:
                    self._drain()
                    deltas = self._ledger.observe(conntrack.dump(self._sockets["dump"]), now)
                else:
                    deltas = []
                deltas = self._destroyed + deltas
                rejects, skipped, begin = self._rejects, self._skipped, self._window_start
                self._rejects, self._destroyed, self._skipped, self._window_start = [], [], False, now
                inventory = self._inventory.with_exempt(self._exempt | local)
                specs = list(self._specs)
                path = self._traffic_path
            records = merge(
                attribute(inventory, deltas, rejects, (begin, now), interface_names=names, traffic_path=path)
            )
            self._emit(inventory, specs, records, (int(begin), int(now)), skipped)

    def _emit(
        self,
        inventory: Inventory,
        specs: list[tuple[FlowLogSpec, LogFormat]],
        records: list[FlowRecord],
        window: tuple[int, int],
        skipped: bool,
    ) -> None:
        by_eni: dict[str, list[FlowRecord]] = {}
        for record in records:
            by_eni.setdefault(record.eni_id, []).append(record)
        for spec, log_format in specs:
            for eni_id in spec.eni_ids:
                eni = inventory.enis.get(eni_id)
                if eni is None:
                    continue
                traffic = by_eni.get(eni_id, [])
                chosen = [r for r in traffic if spec.wants(r.action)]
                if skipped:
                    chosen.append(status_record(eni_id, *window, "SKIPDATA"))
                elif not traffic:
                    chosen.append(status_record(eni_id, *window, "NODATA"))
                if not chosen:
                    continue
                lines = [(r.start * 1000, log_format.line(r, eni)) for r in chosen]
                lines.sort(key=lambda item: item[0])
                try:
                    self.sink(spec.flow_log_id, eni_id, lines)
                except Exception:
                    _log.exception("flow logs: sink failed for %s/%s", spec.flow_log_id, eni_id)
