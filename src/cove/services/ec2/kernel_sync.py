"""Keep the kernel in step with the EC2 tables: after every change, compile and apply.

A background thread wakes on the EC2 change feed (and every `resync_s` anyway, to repair drift),
waits a moment for a burst of calls to settle, reads every account's and region's VPCs in one
short transaction, compiles them with `netmodel.compile_network` and hands the rule set to the
fabric, outside any transaction. Applying is idempotent, so a missed or doubled wake-up is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from cove.db import Database
from cove.fabric.kernel import ApplyReport, Fabric
from cove.netmodel import Network, RuleSet, VpcRouter, compile_network
from cove.services.ec2.changes import ChangeFeed
from cove.services.ec2.dns import endpoint_dns_names
from cove.services.ec2.snapshot import load_network
from cove.services.ec2.tables.topology import Vpc

__all__ = ["DesiredState", "KernelSync", "Scope", "desired_ruleset", "desired_state"]

log = logging.getLogger("cove.fabric")


@dataclass(frozen=True, slots=True)
class Scope:
    """One account's VPCs in one region, as the model sees them."""

    account_id: str
    region: str
    network: Network
    endpoint_names: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class DesiredState:
    ruleset: RuleSet
    scopes: tuple[Scope, ...]

    def scope_of(self, vpc_id: str) -> Scope:
        return next(s for s in self.scopes if vpc_id in s.network.vpcs)


def desired_state(db: Database) -> DesiredState:
    """Every VPC of every account and region, compiled for the kernel (one short read)."""
    with db.snapshot() as session:
        pairs = sorted({(row[0], row[1]) for row in session.execute(select(Vpc.account_id, Vpc.region))})
        scopes = tuple(
            Scope(
                account,
                region,
                load_network(session, account, region),
                endpoint_dns_names(session, account, region),
            )
            for account, region in pairs
        )
    routers: list[VpcRouter] = [r for scope in scopes for r in compile_network(scope.network).vpcs]
    return DesiredState(RuleSet(tuple(sorted(routers, key=lambda r: r.vpc_id))), scopes)


def desired_ruleset(db: Database) -> RuleSet:
    return desired_state(db).ruleset


class KernelSync:
    def __init__(self, db: Database, fabric: Fabric, changes: ChangeFeed, *, resync_s: float = 30.0) -> None:
        self.db = db
        self.fabric = fabric
        self.resync_s = resync_s
        self.last: ApplyReport | None = None
        self.generation = 0
        """Bumped by every change; `applied` catches up when the kernel reflects it."""
        self.applied = 0
        self.observers: list[Callable[[DesiredState], None]] = []
        """Called with each applied rule set (service listeners, DNS, flow logs follow the kernel)."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="cove-kernel-sync", daemon=True)
        changes.subscribe(self._changed)

    def _changed(self, account_id: str, region: str) -> None:
        with self._done:
            self.generation += 1
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def sync_now(self, full: bool = True) -> ApplyReport:
        """One pass; `full` reads back every VPC's kernel state (see Fabric.apply), else only
        those whose rules changed."""
        with self._done:
            generation = self.generation
        state = desired_state(self.db)
        report = self.fabric.apply(state.ruleset, full)
        for observer in self.observers:
            observer(state)
        with self._done:
            self.applied = max(self.applied, generation)
            self.last = report
            self._done.notify_all()
        return report

    def wait_applied(self, timeout: float = 10.0) -> bool:
        """Block until the kernel reflects every change published so far (tests, `cove run`)."""
        deadline = time.monotonic() + timeout
        with self._done:
            target = self.generation
            while self.applied < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def _run(self) -> None:
        full = True  # adopt or rebuild whatever the kernel holds at start-up
        self._wake.set()
        while not self._stop.is_set():
            # A change wakes a pass over what changed; the periodic resync mends everything.
            full = not self._wake.wait(self.resync_s) or full
            if self._stop.is_set():
                return
            self._wake.clear()
            time.sleep(0.05)  # let a burst of API calls land in one pass
            try:
                report = self.sync_now(full)
                full = False
                log.debug("fabric applied", extra={"vpcs": report.vpcs, "seconds": round(report.seconds, 3)})
            except Exception:
                log.exception("fabric reconcile failed; retrying")
                time.sleep(1.0)
                self._wake.set()
