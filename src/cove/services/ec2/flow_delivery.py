"""VPC Flow Logs from the kernel to their destination.

One `FlowLogCollector` per VPC router namespace that has flow logs, fed after every change with
the ENIs and flow logs that cover them (a VPC or subnet flow log covers every ENI inside). Each
interval's lines go to the flow log's CloudWatch Logs group, one stream per ENI named after it,
the group created if missing, as AWS does; or to the flow log's S3 bucket as gzip objects named as
AWS names them (`[prefix/]AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/<account>_vpcflowlogs_
<region>_<flow log id>_<yyyymmddTHHmmZ>_<hash>.log.gz`, a header line of field names first),
written through Cove's own S3 API. The aggregation interval is the flow log's
`MaxAggregationInterval` (60 or 600 s) unless `COVE_FLOW_LOG_INTERVAL` shortens it (tests, demos).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from cove.db import Database
from cove.fabric import netns
from cove.fabric.flowlogs import EniInfo, FlowLogCollector, FlowLogSpec, parse_format
from cove.fabric.names import Names
from cove.fabric.nftables import CREDENTIALS_ADDRESS
from cove.netmodel import VpcRouter
from cove.services.ec2.kernel_sync import DesiredState
from cove.services.ec2.tables.endpoints import FlowLog
from cove.services.logs.service import append_events

__all__ = ["FlowLogDelivery"]

log = logging.getLogger("cove.fabric")


class FlowLogDelivery:
    def __init__(
        self,
        db: Database,
        names: Names,
        interval_s: float | None = None,
        s3_put: Callable[[str, str, bytes], None] | None = None,
    ) -> None:
        self.db = db
        self.s3_put = s3_put
        self.names = names
        self.interval_s = interval_s
        self._collectors: dict[str, tuple[int, FlowLogCollector]] = {}
        self._rows: dict[str, FlowLog] = {}
        self._lock = threading.Lock()

    def sync(self, state: DesiredState) -> None:
        with self.db.read() as session:
            rows = {row.id: row for row in session.scalars(select(FlowLog))}
            for row in rows.values():
                session.expunge(row)
        with self._lock:
            self._rows = rows
            wanted: set[str] = set()
            for router in state.ruleset.vpcs:
                points = [p for p in router.flow_log_points if p.flow_log_id in rows]
                namespace = self.names.router(router.vpc_id)
                if not points or not netns.exists(namespace):
                    continue
                wanted.add(router.vpc_id)
                scope = state.scope_of(router.vpc_id)
                collector = self._ensure(router, namespace, [rows[p.flow_log_id] for p in points])
                enis = _enis(router, scope.account_id, scope.region)
                specs: dict[str, list[str]] = {}
                for point in points:
                    specs.setdefault(point.flow_log_id, []).append(point.eni_id)
                collector.update(
                    enis,
                    [
                        FlowLogSpec(
                            flow_log_id,
                            rows[flow_log_id].traffic_type or "ALL",
                            rows[flow_log_id].log_format or None,
                            tuple(sorted(eni_ids)),
                            rows[flow_log_id].max_aggregation_interval,
                        )
                        for flow_log_id, eni_ids in sorted(specs.items())
                    ],
                    vpc_cidrs=router.cidrs,
                )
            for vpc_id in [v for v in self._collectors if v not in wanted]:
                self._collectors.pop(vpc_id)[1].stop()

    def stop(self) -> None:
        with self._lock:
            for _, collector in self._collectors.values():
                collector.stop()
            self._collectors.clear()

    def flush(self) -> None:
        """Close the current interval everywhere now (tests, shutdown)."""
        with self._lock:
            collectors = [c for _, c in self._collectors.values()]
        for collector in collectors:
            collector.flush()

    def _ensure(self, router: VpcRouter, namespace: str, rows: list[FlowLog]) -> FlowLogCollector:
        identity = netns.identity(namespace)
        current = self._collectors.get(router.vpc_id)
        if current is not None and current[0] == identity:
            return current[1]
        if current is not None:
            current[1].stop()
        interval = self.interval_s or float(min(r.max_aggregation_interval for r in rows))
        exempt = [e.address for e in router.exemptions] + [CREDENTIALS_ADDRESS]
        collector = FlowLogCollector(namespace, self._deliver, interval, exempt=exempt)
        collector.start()
        self._collectors[router.vpc_id] = (identity, collector)
        return collector

    def _deliver(self, flow_log_id: str, eni_id: str, lines: list[tuple[int, str]]) -> None:
        row = self._rows.get(flow_log_id)
        if row is None or not lines:
            return
        try:
            if row.destination_type == "cloud-watch-logs":
                arn = row.log_destination or ""
                group = row.log_group_name or arn.split(":log-group:")[-1].removesuffix(":*")
                append_events(self.db, row.account_id, row.region, group, eni_id, lines, create_group=True)
            elif row.destination_type == "s3" and self.s3_put is not None and row.log_destination:
                bucket, key, body = _s3_object(row, eni_id, lines)
                self.s3_put(bucket, key, body)
            else:
                log.warning("flow log %s: no delivery to %s", flow_log_id, row.destination_type)
        except Exception:
            log.exception("flow log %s: delivery failed", flow_log_id)


def _s3_object(row: FlowLog, eni_id: str, lines: list[tuple[int, str]]) -> tuple[str, str, bytes]:
    target = row.log_destination.removeprefix("arn:aws:s3:::") if row.log_destination else ""
    bucket, _, prefix = target.partition("/")
    stamp = datetime.fromtimestamp(lines[0][0] / 1000, UTC)
    digest = hashlib.sha256(f"{eni_id}{lines[0][0]}{len(lines)}".encode()).hexdigest()[:8]
    name = (
        f"AWSLogs/{row.account_id}/vpcflowlogs/{row.region}/{stamp:%Y/%m/%d}/"
        f"{row.account_id}_vpcflowlogs_{row.region}_{row.id}_{stamp:%Y%m%dT%H%MZ}_{digest}.log.gz"
    )
    header = " ".join(parse_format(row.log_format or None))
    text = "\n".join([header, *(line for _, line in lines)]) + "\n"
    return bucket, f"{prefix.rstrip('/')}/{name}" if prefix else name, gzip.compress(text.encode())


def _enis(router: VpcRouter, account_id: str, region: str) -> list[EniInfo]:
    zones = {s.subnet_id: s.availability_zone for s in router.subnets}
    return [
        EniInfo(
            a.eni_id,
            a.addresses[0].split("/")[0],
            tuple(x.split("/")[0] for x in a.addresses),
            Names.router_interface(a.eni_id),
            a.subnet_id,
            router.vpc_id,
            None,
            account_id,
            region,
            zones.get(a.subnet_id),
        )
        for a in router.attachments
    ]
