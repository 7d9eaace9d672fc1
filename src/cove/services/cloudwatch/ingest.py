"""PutMetricData: AWS's checks on each datum, and storing its samples.

A datum becomes one or more samples: a Value is one sample of count 1, each Values entry one
sample weighted by its Counts entry, a StatisticValues set one sample without a value. Timestamps
are truncated to the datum's resolution (the minute unless StorageResolution is 1), which is what
AWS keeps: standard-resolution data never answers at a finer granularity than a minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cove.aws.protocols.common import to_datetime
from cove.services.cloudwatch.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    invalid_value,
)
from cove.services.cloudwatch.identity import Dimensions, dimensions_of, metric_key
from cove.services.cloudwatch.tables import DatapointRow, MetricRow

__all__ = ["MAX_DATA", "Datum", "parse_data", "store"]

MAX_DATA = 1000
_MAX_VALUES = 150
_PAST_MS = 14 * 24 * 3600 * 1000
_FUTURE_MS = 2 * 3600 * 1000
_LIMIT = 2.0**360


@dataclass(frozen=True, slots=True)
class Sample:
    timestamp_ms: int
    unit: str
    count: float
    sum: float
    minimum: float
    maximum: float
    value: float | None


@dataclass(frozen=True, slots=True)
class Datum:
    name: str
    dimensions: Dimensions
    samples: list[Sample]


def _number(raw: Any, parameter: str) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise invalid_value(raw, parameter) from None
    if not math.isfinite(number) or abs(number) > _LIMIT:
        raise invalid_value(raw, parameter)
    return number


def _timestamp_ms(raw: Any, prefix: str, now_ms: int) -> int:
    if raw is None:
        return now_ms
    try:
        moment = to_datetime(raw)
    except (ValueError, OverflowError, OSError):
        raise invalid_value(raw, f"{prefix}.Timestamp") from None
    stamp = int(moment.timestamp() * 1000)
    if stamp < now_ms - _PAST_MS:
        raise InvalidParameterValue(
            f"The parameter {prefix}.Timestamp must specify a time within the past two weeks."
        )
    if stamp > now_ms + _FUTURE_MS:
        raise InvalidParameterValue(
            f"The parameter {prefix}.Timestamp must specify a time no more than two hours in the future."
        )
    return stamp


def _exclusive(datum: Mapping[str, Any], prefix: str) -> None:
    given = [name for name in ("Value", "StatisticValues", "Values") if datum.get(name) not in (None, [])]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {prefix}.{given[0]} and {prefix}.{given[1]} are mutually exclusive and you "
            "have specified both."
        )
    if not given:
        raise MissingParameter(
            f"At least one of the parameters {prefix}.Value, {prefix}.StatisticValues or {prefix}.Values "
            "must be specified."
        )


def _statistic_set(raw: Mapping[str, Any], prefix: str) -> tuple[float, float, float, float]:
    where = f"{prefix}.StatisticValues"
    for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
        if raw.get(member) is None:
            raise MissingParameter(f"The parameter {where}.{member} is required.")
    count = _number(raw["SampleCount"], f"{where}.SampleCount")
    total = _number(raw["Sum"], f"{where}.Sum")
    low = _number(raw["Minimum"], f"{where}.Minimum")
    high = _number(raw["Maximum"], f"{where}.Maximum")
    if count <= 0:
        raise invalid_value(raw["SampleCount"], f"{where}.SampleCount")
    if high < low:
        raise InvalidParameterValue(
            f"The parameter {where}.Maximum must be greater than or equal to the parameter {where}.Minimum."
        )
    return count, total, low, high


def _samples(datum: Mapping[str, Any], prefix: str, stamp: int, unit: str) -> list[Sample]:
    if datum.get("Value") is not None:
        value = _number(datum["Value"], f"{prefix}.Value")
        return [Sample(stamp, unit, 1.0, value, value, value, value)]
    if datum.get("StatisticValues") is not None:
        count, total, low, high = _statistic_set(datum["StatisticValues"], prefix)
        return [Sample(stamp, unit, count, total, low, high, None)]
    values: Sequence[Any] = datum["Values"]
    counts: Sequence[Any] | None = datum.get("Counts")
    if counts is not None and len(counts) != len(values):
        raise InvalidParameterValue(
            f"The parameters {prefix}.Values and {prefix}.Counts must be of the same size."
        )
    if len(values) > _MAX_VALUES:
        raise InvalidParameterValue(
            f"The collection {prefix}.Values must not contain more than {_MAX_VALUES} items."
        )
    samples = []
    for i, raw in enumerate(values, start=1):
        value = _number(raw, f"{prefix}.Values.member.{i}")
        count = 1.0 if counts is None else _number(counts[i - 1], f"{prefix}.Counts.member.{i}")
        if count < 0:
            raise invalid_value(counts[i - 1] if counts else count, f"{prefix}.Counts.member.{i}")
        if count > 0:
            samples.append(Sample(stamp, unit, count, value * count, value, value, value))
    return samples


def parse_data(data: Sequence[Mapping[str, Any]], now: datetime) -> list[Datum]:
    """Check every datum as AWS does (the first problem is the error) and turn it into samples."""
    if not data:
        raise MissingParameter("The parameter MetricData is required.")
    if len(data) > MAX_DATA:
        raise InvalidParameterValue(f"The collection MetricData must not contain more than {MAX_DATA} items.")
    now_ms = int(now.timestamp() * 1000)
    parsed = []
    for index, datum in enumerate(data, start=1):
        prefix = f"MetricData.member.{index}"
        name = datum.get("MetricName")
        if not name:
            raise MissingParameter(f"The parameter {prefix}.MetricName is required.")
        _exclusive(datum, prefix)
        resolution = datum.get("StorageResolution")
        if resolution is not None and resolution not in (1, 60):
            raise invalid_value(resolution, f"{prefix}.StorageResolution")
        grain = 1000 if resolution == 1 else 60_000
        stamp = _timestamp_ms(datum.get("Timestamp"), prefix, now_ms) // grain * grain
        unit = str(datum.get("Unit") or "None")
        dimensions = dimensions_of(datum.get("Dimensions"))
        parsed.append(Datum(str(name), dimensions, _samples(datum, prefix, stamp, unit)))
    return parsed


def _metric(
    s: Session, account_id: str, region: str, namespace: str, datum: Datum, key: str, now_ms: int
) -> int:
    lookup = select(MetricRow.id).where(
        MetricRow.account_id == account_id, MetricRow.region == region, MetricRow.key == key
    )
    found = s.scalar(lookup)
    if found is not None:
        return found
    row = MetricRow(
        account_id=account_id,
        region=region,
        key=key,
        namespace=namespace,
        name=datum.name,
        dimensions=datum.dimensions,
        last_put_ms=now_ms,
    )
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        # Another writer created the same metric between the lookup and the insert.
        existing = s.scalar(lookup)
        assert existing is not None
        return existing
    return row.id


def store(s: Session, account_id: str, region: str, namespace: str, data: list[Datum], now: datetime) -> None:
    now_ms = int(now.timestamp() * 1000)
    rows: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    for datum in data:
        key = metric_key(namespace, datum.name, datum.dimensions)
        metric_id = ids.get(key)
        if metric_id is None:
            metric_id = ids[key] = _metric(s, account_id, region, namespace, datum, key, now_ms)
        rows.extend(
            {
                "metric_id": metric_id,
                "timestamp": sample.timestamp_ms,
                "unit": sample.unit,
                "sample_count": sample.count,
                "sum": sample.sum,
                "minimum": sample.minimum,
                "maximum": sample.maximum,
                "value": sample.value,
            }
            for sample in datum.samples
        )
    if rows:
        s.execute(insert(DatapointRow), rows)
    for metric_id in ids.values():
        metric = s.get(MetricRow, metric_id)
        if metric is not None:
            metric.last_put_ms = now_ms
