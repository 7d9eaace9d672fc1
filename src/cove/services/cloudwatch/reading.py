"""Reading a metric's stored samples, and GetMetricStatistics over them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.cloudwatch.errors import InvalidParameterCombination, InvalidParameterValue, invalid_value
from cove.services.cloudwatch.identity import dimensions_of, metric_key
from cove.services.cloudwatch.statistics import (
    STATISTICS,
    Point,
    aligned_start_ms,
    bucketize,
    percentile_of,
    statistic,
    valid_period,
)
from cove.services.cloudwatch.tables import DatapointRow, MetricRow

__all__ = ["MAX_STATISTICS_POINTS", "find_metric", "get_metric_statistics", "load_points"]

MAX_STATISTICS_POINTS = 1440


def find_metric(
    s: Session, account_id: str, region: str, namespace: str, name: str, dimensions: Any
) -> int | None:
    """The metric with exactly these dimensions (a subset or superset is another metric)."""
    key = metric_key(namespace, name, dimensions_of(dimensions))
    return s.scalar(
        select(MetricRow.id).where(
            MetricRow.account_id == account_id, MetricRow.region == region, MetricRow.key == key
        )
    )


def load_points(s: Session, metric_id: int, start_ms: int, end_ms: int, unit: str | None) -> list[Point]:
    query = select(
        DatapointRow.timestamp,
        DatapointRow.unit,
        DatapointRow.sample_count,
        DatapointRow.sum,
        DatapointRow.minimum,
        DatapointRow.maximum,
        DatapointRow.value,
    ).where(
        DatapointRow.metric_id == metric_id,
        DatapointRow.timestamp >= start_ms,
        DatapointRow.timestamp < end_ms,
    )
    if unit is not None:
        query = query.where(DatapointRow.unit == unit)
    return [Point(*row) for row in s.execute(query)]


def epoch_ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


def _check(p: dict[str, Any], now: datetime) -> tuple[int, int]:
    statistics: list[str] = p.get("Statistics") or []
    extended: list[str] = p.get("ExtendedStatistics") or []
    if bool(statistics) == bool(extended):
        raise InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics, but not both."
        )
    for stat in extended:
        if percentile_of(stat) is None:
            raise invalid_value(stat, "ExtendedStatistics")
    period = int(p["Period"])
    if not valid_period(period):
        raise InvalidParameterValue("The parameter Period must be a multiple of 60.")
    start, end = p["StartTime"], p["EndTime"]
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    start_ms = aligned_start_ms(start, period, now)
    end_ms = epoch_ms(end)
    requested = math.ceil((end_ms - start_ms) / (period * 1000))
    if requested > MAX_STATISTICS_POINTS:
        raise InvalidParameterCombination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_STATISTICS_POINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )
    return start_ms, end_ms


def get_metric_statistics(
    s: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> dict[str, Any]:
    start_ms, end_ms = _check(p, now)
    name = p["MetricName"]
    output: dict[str, Any] = {"Label": name, "Datapoints": []}
    metric_id = find_metric(s, account_id, region, p["Namespace"], name, p.get("Dimensions"))
    if metric_id is None:
        return output
    points = load_points(s, metric_id, start_ms, end_ms, p.get("Unit"))
    buckets = bucketize(points, start_ms, int(p["Period"]), by_unit=True)
    statistics: list[str] = p.get("Statistics") or []
    extended: list[str] = p.get("ExtendedStatistics") or []
    for (begin, unit), bucket in sorted(buckets.items()):
        datapoint: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(begin / 1000, UTC), "Unit": unit}
        for stat in statistics:
            if stat in STATISTICS:
                datapoint[stat] = statistic(bucket, stat)
        percentiles = {stat: statistic(bucket, stat) for stat in extended}
        kept = {stat: value for stat, value in percentiles.items() if value is not None}
        if kept:
            datapoint["ExtendedStatistics"] = kept
        output["Datapoints"].append(datapoint)
    return output
