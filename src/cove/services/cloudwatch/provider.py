"""CloudWatch metrics operations (smithy-rpc-v2-cbor for current SDKs, awsJson 1.0 and query for
older ones: the wire layer decides, the handlers see boto3-shaped parameters either way).

Authorization goes through the gateway; these actions take no resource ARN on AWS, so IAM checks
them against ``*`` (the Provider default).
"""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.services.cloudwatch.errors import invalid_value
from cove.services.cloudwatch.ingest import parse_data, store
from cove.services.cloudwatch.listing import list_metrics
from cove.services.cloudwatch.metric_data import get_metric_data
from cove.services.cloudwatch.reading import get_metric_statistics

__all__ = ["CloudWatchProvider"]

Out = dict[str, Any]


class CloudWatchProvider(Provider):
    service = "cloudwatch"
    # Reads that aggregate many datapoints run in a worker thread, not on the event loop.
    blocking = frozenset({"GetMetricStatistics", "GetMetricData"})

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation("PutMetricData")
    def put_metric_data(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        namespace = p["Namespace"]
        if namespace.startswith("AWS/"):
            raise invalid_value("AWS/", "Namespace")
        # Entities only label data for CloudWatch's explorer views; their metrics are plain metrics.
        raw = list(p.get("MetricData") or [])
        for entity in p.get("EntityMetricData") or []:
            raw.extend(entity.get("MetricData") or [])
        data = parse_data(raw, ctx.now)
        with self.db.session() as s:
            store(s, ctx.account_id, ctx.region, namespace, data, ctx.now)
        return {}

    @operation("GetMetricStatistics")
    def get_metric_statistics(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return get_metric_statistics(s, ctx.account_id, ctx.region, p, ctx.now)

    @operation("GetMetricData")
    def get_metric_data(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return get_metric_data(s, ctx.account_id, ctx.region, p, ctx.now)

    @operation("ListMetrics")
    def list_metrics(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return list_metrics(s, ctx.account_id, ctx.region, p, ctx.now)
