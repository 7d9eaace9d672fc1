"""Period buckets and the statistics of a bucket, as CloudWatch computes them.

Buckets start at the request's StartTime rounded down as AWS documents it (to the period itself
for the high-resolution periods, else to the minute, to 5 minutes past 15 days of age, to the
hour past 63 days) and follow each other every Period seconds until EndTime (exclusive); a
datapoint's Timestamp is its bucket's start. Percentiles are nearest-rank over raw values weighted
by their counts; like AWS, none is given for a bucket that holds a statistic set or a negative
value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "HIGH_RESOLUTION_PERIODS",
    "STATISTICS",
    "Bucket",
    "Point",
    "aligned_start_ms",
    "bucketize",
    "percentile_of",
    "statistic",
    "valid_period",
]

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)")
_DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class Point:
    """One stored sample, as the datapoints table holds it."""

    timestamp: int
    unit: str
    count: float
    sum: float
    minimum: float
    maximum: float
    value: float | None


@dataclass(slots=True)
class Bucket:
    count: float = 0.0
    sum: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    values: list[tuple[float, float]] = field(default_factory=list)
    has_set: bool = False

    def add(self, point: Point) -> None:
        self.count += point.count
        self.sum += point.sum
        self.minimum = min(self.minimum, point.minimum)
        self.maximum = max(self.maximum, point.maximum)
        if point.value is None:
            self.has_set = True
        else:
            self.values.append((point.value, point.count))


def valid_period(period: int) -> bool:
    return period in HIGH_RESOLUTION_PERIODS or (period > 0 and period % 60 == 0)


def aligned_start_ms(start: datetime, period: int, now: datetime) -> int:
    seconds = math.floor(start.timestamp())
    age = now.timestamp() - seconds
    if period < 60:
        grain = period
    elif age <= 15 * _DAY:
        grain = 60
    elif age <= 63 * _DAY:
        grain = 300
    else:
        grain = 3600
    return seconds // grain * grain * 1000


def bucketize(
    points: Iterable[Point], start_ms: int, period: int, *, by_unit: bool
) -> dict[tuple[int, str], Bucket]:
    """Points (already within [start, end)) grouped by bucket start, and by unit when asked."""
    period_ms = period * 1000
    buckets: dict[tuple[int, str], Bucket] = {}
    for point in points:
        begin = start_ms + (point.timestamp - start_ms) // period_ms * period_ms
        key = (begin, point.unit if by_unit else "")
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = Bucket()
        bucket.add(point)
    return buckets


def percentile_of(stat: str) -> float | None:
    """The percentile a ``pNN`` / ``pNN.NN`` statistic names, else None."""
    found = _PERCENTILE.fullmatch(stat)
    return float(found.group(1)) if found else None


def _percentile(bucket: Bucket, p: float) -> float | None:
    if bucket.has_set or not bucket.values or any(value < 0 for value, _ in bucket.values):
        return None
    ordered = sorted(bucket.values)
    total = sum(count for _, count in ordered)
    rank = max(math.ceil(p / 100.0 * total - 1e-9), 1)
    seen = 0.0
    for value, count in ordered:
        seen += count
        if seen >= rank:
            return value
    return ordered[-1][0]


def statistic(bucket: Bucket, stat: str) -> float | None:
    """The value of ``stat`` (one of STATISTICS or a percentile) for ``bucket``, None when it has none."""
    if stat == "SampleCount":
        return bucket.count
    if stat == "Sum":
        return bucket.sum
    if stat == "Average":
        return bucket.sum / bucket.count if bucket.count else None
    if stat == "Minimum":
        return bucket.minimum
    if stat == "Maximum":
        return bucket.maximum
    p = percentile_of(stat)
    return None if p is None else _percentile(bucket, p)
