"""CloudWatch metrics for Cove's own producers: publish datapoints without going through HTTP.

Training jobs publish their algorithm metrics (MetricDefinitions) and instance metrics here, into
the same tables GetMetricStatistics / GetMetricData / ListMetrics read::

    from cove.services.cloudwatch.service import put_metric_data

    with db.session() as session:
        put_metric_data(session, account_id, region, "/aws/sagemaker/TrainingJobs", [
            {"MetricName": "train:loss", "Value": 0.42, "Timestamp": 1700000000.0,
             "Dimensions": [{"Name": "Host", "Value": "job-1/algo-1"}]},
        ])

``data`` holds MetricDatum dicts shaped as boto3's ``put_metric_data`` takes them (Timestamp as a
datetime or epoch seconds; Value, Values/Counts or StatisticValues; Unit; StorageResolution). The
same checks as PutMetricData apply (a bad datum raises the ServiceError AWS would answer), except
that AWS/ namespaces are allowed: Cove itself speaks for AWS services. The datapoints commit with
the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cove.services.cloudwatch.ingest import parse_data, store

__all__ = ["put_metric_data"]


def put_metric_data(
    session: Session,
    account_id: str,
    region: str,
    namespace: str,
    data: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> None:
    if not data:
        return
    moment = now or datetime.now(UTC)
    store(session, account_id, region, namespace, parse_data(data, moment), moment)
