"""Audit events: one row per recorded API call, plus the resources it touched."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base

__all__ = ["AuditEventRow", "AuditResourceRow"]


class AuditEventRow(Base):
    """The lookup columns are copies of fields of ``record`` (the CloudTrail JSON, fixed at record
    time), kept separately so LookupEvents and ``cove audit`` filter on indexes."""

    __tablename__ = "audit_events"
    # Insertion order breaks ties between events with the same time (newest-first paging).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_time: Mapped[datetime] = mapped_column(index=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    event_source: Mapped[str] = mapped_column(String(128), index=True)
    event_name: Mapped[str] = mapped_column(String(128), index=True)
    read_only: Mapped[bool] = mapped_column()
    username: Mapped[str | None] = mapped_column(String(256), index=True)
    principal_arn: Mapped[str | None] = mapped_column(String(2048), index=True)
    access_key_id: Mapped[str | None] = mapped_column(String(128), index=True)
    error_code: Mapped[str | None] = mapped_column(String(128))
    # allowed | explicitDeny | implicitDeny, when the provider explained its authorization decision.
    decision: Mapped[str | None] = mapped_column(String(16))
    record: Mapped[str] = mapped_column(Text)


class AuditResourceRow(Base):
    __tablename__ = "audit_event_resources"
    event_seq: Mapped[int] = mapped_column(
        ForeignKey("audit_events.seq", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    arn: Mapped[str] = mapped_column(String(2048), index=True)
    # What LookupEvents reports as ResourceName: a bucket's name, otherwise the ARN.
    name: Mapped[str] = mapped_column(String(2048), index=True)
    type: Mapped[str | None] = mapped_column(String(128), index=True)
