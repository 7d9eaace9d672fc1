"""CloudWatch Logs state: log groups, their streams, and the events stored in them.

Times are epoch milliseconds, as the API speaks them. Events carry their group as well as their
stream so that FilterLogEvents (a group-wide, time-ordered scan) and GetLogEvents (one stream,
time-ordered) each walk an index of their own; the row id breaks ties between equal timestamps
and is the event's place in both orders.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base

__all__ = ["LogEventRow", "LogGroupRow", "LogStreamRow"]

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid); elsewhere events need 64 bits.
_EVENT_ID = BigInteger().with_variant(Integer(), "sqlite")


class LogGroupRow(Base):
    __tablename__ = "logs_groups"
    __table_args__ = (UniqueConstraint("account_id", "region", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(512))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    kms_key_id: Mapped[str | None] = mapped_column(String(256), default=None)
    log_group_class: Mapped[str] = mapped_column(String(32), default="STANDARD")
    deletion_protection: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class LogStreamRow(Base):
    __tablename__ = "logs_streams"
    __table_args__ = (UniqueConstraint("group_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("logs_groups.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(512))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    first_event_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_event_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_ingestion_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # How many PutLogEvents batches were accepted: the source of uploadSequenceToken.
    uploads: Mapped[int] = mapped_column(Integer, default=0)


class LogEventRow(Base):
    __tablename__ = "logs_events"
    __table_args__ = (
        Index("ix_logs_events_stream_time", "stream_id", "timestamp", "id"),
        Index("ix_logs_events_group_time", "group_id", "timestamp", "id"),
    )
    id: Mapped[int] = mapped_column(_EVENT_ID, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("logs_groups.id", ondelete="CASCADE"))
    stream_id: Mapped[int] = mapped_column(ForeignKey("logs_streams.id", ondelete="CASCADE"))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    ingestion: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    # The message's UTF-8 length: what storedBytes adds up, and takes back when events go.
    size: Mapped[int] = mapped_column(Integer)
