"""GetMetricData: MetricStat queries, metric math over them, ScanBy order and MaxDatapoints pages.

Every returned query yields a result on every page; a page holds at most MaxDatapoints values
across all results, taken in query order, and a result with values left for a later page says
``PartialData`` (``Complete`` otherwise), as AWS answers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cove.services.cloudwatch import tokens
from cove.services.cloudwatch.errors import ValidationError
from cove.services.cloudwatch.expressions import Evaluator, Series
from cove.services.cloudwatch.reading import epoch_ms, find_metric, load_points
from cove.services.cloudwatch.statistics import (
    STATISTICS,
    aligned_start_ms,
    bucketize,
    percentile_of,
    statistic,
    valid_period,
)

__all__ = ["DEFAULT_MAX_DATAPOINTS", "get_metric_data"]

DEFAULT_MAX_DATAPOINTS = 100_800
_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")


def _check(queries: list[dict[str, Any]], start: datetime, end: datetime) -> None:
    seen: set[str] = set()
    for index, query in enumerate(queries, start=1):
        where = f"MetricDataQueries.member.{index}"
        query_id = query["Id"]
        if not _ID.fullmatch(query_id):
            raise ValidationError(
                f"The value {query_id} for parameter {where}.Id is invalid: it must start with a lowercase "
                "letter and contain only letters, numbers and underscores."
            )
        if query_id in seen:
            raise ValidationError("The values for parameter id in MetricDataQueries are not unique.")
        seen.add(query_id)
        stat, expression = query.get("MetricStat"), query.get("Expression")
        if stat is not None and expression is not None:
            raise ValidationError(
                f"The parameters {where}.Expression and {where}.MetricStat are mutually exclusive and you "
                "have specified both."
            )
        if stat is None and expression is None:
            raise ValidationError(
                f"The parameter {where}.MetricStat or {where}.Expression must be specified."
            )
        if stat is not None:
            if not valid_period(int(stat["Period"])):
                raise ValidationError(f"The parameter {where}.MetricStat.Period must be a multiple of 60.")
            if stat["Stat"] not in STATISTICS and percentile_of(stat["Stat"]) is None:
                raise ValidationError(
                    f"The value {stat['Stat']} for parameter {where}.MetricStat.Stat is invalid."
                )
    if not any(query.get("ReturnData", True) for query in queries):
        raise ValidationError("At least one MetricDataQuery must have ReturnData set to true.")
    if start >= end:
        raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")


def _stat_series(
    s: Session,
    account_id: str,
    region: str,
    stat: dict[str, Any],
    start: datetime,
    end: datetime,
    now: datetime,
) -> Series:
    metric = stat["Metric"]
    period = int(stat["Period"])
    metric_id = find_metric(
        s,
        account_id,
        region,
        metric.get("Namespace", ""),
        metric.get("MetricName", ""),
        metric.get("Dimensions"),
    )
    if metric_id is None:
        return {}
    start_ms = aligned_start_ms(start, period, now)
    points = load_points(s, metric_id, start_ms, epoch_ms(end), stat.get("Unit"))
    series: Series = {}
    for (begin, _), bucket in bucketize(points, start_ms, period, by_unit=False).items():
        value = statistic(bucket, stat["Stat"])
        if value is not None:
            series[begin] = value
    return series


def _results(
    s: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = p["MetricDataQueries"]
    start, end = p["StartTime"], p["EndTime"]
    _check(queries, start, end)
    stats: dict[str, Series] = {}
    labels: dict[str, str] = {}
    expressions: dict[str, str] = {}
    for query in queries:
        if query.get("MetricStat") is not None:
            stats[query["Id"]] = _stat_series(s, account_id, region, query["MetricStat"], start, end, now)
            labels[query["Id"]] = query.get("Label") or query["MetricStat"]["Metric"].get("MetricName", "")
        else:
            expressions[query["Id"]] = query["Expression"]
    evaluator = Evaluator(expressions, stats, labels)
    every_stamp: set[int] = set().union(*(series.keys() for series in stats.values())) if stats else set()
    descending = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    results = []
    for query in queries:
        if not query.get("ReturnData", True):
            continue
        value = evaluator.value(query["Id"])
        if isinstance(value, list):
            raise ValidationError(
                f"Error in expression {query['Id']}: the expression returns several time series, "
                "which GetMetricData only supports for single-series expressions here."
            )
        series = value if isinstance(value, dict) else {stamp: value for stamp in every_stamp}
        stamps = sorted(series, reverse=descending)
        label = query.get("Label") or labels.get(query["Id"]) or query["Id"]
        results.append({"Id": query["Id"], "Label": label, "points": [(t, series[t]) for t in stamps]})
    return results


def get_metric_data(
    s: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> dict[str, Any]:
    limit = int(p.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS)
    offset = tokens.decode(p["NextToken"], "o")["o"] if p.get("NextToken") else 0
    results = _results(s, account_id, region, p, now)
    budget, skip_left = limit, offset
    output: list[dict[str, Any]] = []
    more = False
    for result in results:
        points = result["points"]
        skip = min(skip_left, len(points))
        skip_left -= skip
        take = max(min(len(points) - skip, budget), 0)
        budget -= take
        chunk = points[skip : skip + take]
        partial = skip + take < len(points)
        more = more or partial
        output.append(
            {
                "Id": result["Id"],
                "Label": result["Label"],
                "Timestamps": [datetime.fromtimestamp(t / 1000, UTC) for t, _ in chunk],
                "Values": [v for _, v in chunk],
                "StatusCode": "PartialData" if partial else "Complete",
            }
        )
    response: dict[str, Any] = {"MetricDataResults": output, "Messages": []}
    if more:
        response["NextToken"] = tokens.encode({"o": offset + limit - budget})
    return response
