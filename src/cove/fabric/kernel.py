"""`Fabric`: make the kernel match a compiled `RuleSet`, and sweep what no longer belongs.

One reconciler per state directory; `apply` is idempotent and serialised, so a background loop
can call it after every EC2 change and once at start-up (which adopts whatever an earlier run of
the same state directory left: names are derived from ids, so existing namespaces are reused).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from cove.fabric import netns
from cove.fabric.names import Names
from cove.fabric.router import RouterReconciler
from cove.fabric.tracking import UntrackedFlows
from cove.netmodel import RuleSet

__all__ = ["ApplyReport", "Fabric"]

log = logging.getLogger("cove.fabric")


@dataclass(frozen=True, slots=True)
class ApplyReport:
    vpcs: int
    enis: int
    removed: tuple[str, ...]
    seconds: float


@dataclass
class Fabric:
    names: Names
    _routers: RouterReconciler = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _untracked: UntrackedFlows = field(default_factory=UntrackedFlows, init=False)

    def __post_init__(self) -> None:
        self._routers = RouterReconciler(self.names)

    def apply(self, ruleset: RuleSet, full: bool = True) -> ApplyReport:
        """Make the kernel match `ruleset`. Unless `full`, VPCs whose compiled router has not
        changed since it was last applied are not read back from the kernel (RouterReconciler)."""
        started = time.monotonic()
        with self._lock:
            wanted: set[str] = set()
            enis = 0
            for router in ruleset.vpcs:
                wanted.update(self._routers.apply(router, full))
                # After the new table: cut the untracked flows it no longer admits (AWS §1.3).
                self._untracked.after_apply(self.names.router(router.vpc_id), router)
                wanted.add(self.names.router(router.vpc_id))
                wanted.update(self.names.eni(a.eni_id) for a in router.attachments)
                enis += len(router.attachments)
            removed = self._sweep(wanted)
        return ApplyReport(len(ruleset.vpcs), enis, removed, time.monotonic() - started)

    def expected(self, ruleset: RuleSet) -> set[str]:
        """The namespaces the rule set accounts for (routers, ENIs, gateways)."""
        wanted: set[str] = set()
        for router in ruleset.vpcs:
            wanted.add(self.names.router(router.vpc_id))
            wanted.update(self.names.eni(a.eni_id) for a in router.attachments)
            for gateway in router.gateways:
                if gateway.kind == "igw":
                    wanted.add(self.names.internet())
                elif gateway.kind == "gateway-endpoint":
                    wanted.add(self.names.endpoint(gateway.gateway_id))
        return wanted

    def collect(self, ruleset: RuleSet) -> tuple[str, ...]:
        """`cove gc`: remove what no live object owns, creating nothing."""
        with self._lock:
            return self._sweep(self.expected(ruleset))

    def owned(self) -> list[str]:
        return netns.listing(self.names.prefix)

    def teardown(self) -> tuple[str, ...]:
        """Remove every namespace of this state directory (tests, `cove gc --all`)."""
        with self._lock:
            return self._sweep(set())

    def _sweep(self, wanted: set[str]) -> tuple[str, ...]:
        removed: list[str] = []
        # ENIs before routers: deleting a router namespace takes the veths with it anyway, but
        # an ENI namespace would otherwise outlive its VPC.
        stale = [n for n in self.owned() if n not in wanted]
        if stale:
            netns.kill_processes(*stale)  # one look through /proc for them all
        for namespace in sorted(stale, key=lambda n: "-vpc-" in n):
            if netns.remove(namespace):
                removed.append(namespace)
            self._routers.applied_tables.pop(namespace, None)
            self._routers.applied_enis.pop(namespace, None)
            self._routers.applied_gateways.pop(namespace, None)
            self._routers.applied_routers.pop(namespace, None)
        if removed:
            log.info("fabric removed %d namespaces", len(removed))
        return tuple(removed)
