"""CloudWatch metrics state: one row per metric (namespace, name and exact dimension set) and its
datapoints.

A metric's identity is a hash of its namespace, name and dimensions sorted by name, so lookups and
the uniqueness constraint stay one short indexed column however many dimensions a metric has.
Datapoints keep what every statistic needs (count, sum, min, max); a raw value (from Value or
Values/Counts) also keeps the value so percentiles can be computed, while a StatisticValues set
has none, as on AWS where percentiles cannot be derived from statistic sets.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base

__all__ = ["DatapointRow", "MetricRow"]

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); elsewhere datapoints need 64 bits.
_POINT_ID = BigInteger().with_variant(Integer(), "sqlite")


class MetricRow(Base):
    __tablename__ = "cloudwatch_metrics"
    __table_args__ = (
        UniqueConstraint("account_id", "region", "key"),
        Index("ix_cloudwatch_metrics_listing", "account_id", "region", "namespace", "name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    # [{"Name": ..., "Value": ...}] in the order first published.
    dimensions: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # When data last arrived (epoch ms): ListMetrics hides metrics idle for two weeks and
    # RecentlyActive=PT3H keeps those that received data in the last three hours.
    last_put_ms: Mapped[int] = mapped_column(BigInteger)


class DatapointRow(Base):
    __tablename__ = "cloudwatch_datapoints"
    __table_args__ = (Index("ix_cloudwatch_datapoints_metric_time", "metric_id", "timestamp"),)
    id: Mapped[int] = mapped_column(_POINT_ID, primary_key=True, autoincrement=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("cloudwatch_metrics.id", ondelete="CASCADE"))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # epoch ms, truncated to the resolution
    unit: Mapped[str] = mapped_column(String(32))
    sample_count: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float, default=None)
