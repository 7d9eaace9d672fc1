"""SageMaker state: training and processing jobs, and the tags of every SageMaker resource.

A job row keeps the Create request as given (the Describe echo and the reconciler's input), the
status pair with its transitions, and ``runtime``: whatever the reconciler needs to remember
between passes (ENIs made, processes started). Tags are keyed by ARN so models and endpoints can
share the table later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base

__all__ = ["JobRecord", "TagRow"]


class JobRecord(Base):
    __tablename__ = "sagemaker_jobs"
    __table_args__ = (
        UniqueConstraint("arn"),
        Index("ix_sagemaker_jobs_listing", "account_id", "region", "kind", "created"),
        Index("ix_sagemaker_jobs_status", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # 'training' | 'processing'
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(63))
    arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    secondary_status: Mapped[str | None] = mapped_column(String(32), default=None)
    transitions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    exit_message: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime]
    started: Mapped[datetime | None] = mapped_column(default=None)
    ended: Mapped[datetime | None] = mapped_column(default=None)
    last_modified: Mapped[datetime]
    model_artifacts: Mapped[str | None] = mapped_column(String(1024), default=None)
    final_metrics: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class TagRow(Base):
    __tablename__ = "sagemaker_tags"
    __table_args__ = (UniqueConstraint("arn", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(256))
