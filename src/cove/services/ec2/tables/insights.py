"""Reachability Analyzer: network insights paths and their analyses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = ["NetworkInsightsAnalysis", "NetworkInsightsPath"]


class NetworkInsightsPath(Base):
    __tablename__ = "ec2_insights_paths"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(15))
    destination_ip: Mapped[str | None] = mapped_column(String(15))
    protocol: Mapped[str] = mapped_column(String(8))
    destination_port: Mapped[int | None] = mapped_column(Integer)
    client_token: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class NetworkInsightsAnalysis(Base):
    __tablename__ = "ec2_insights_analyses"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    path_id: Mapped[str] = mapped_column(ForeignKey("ec2_insights_paths.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    # The analysis' outcome as the API returns it (path found, components, explanations).
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_token: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    started: Mapped[datetime] = mapped_column(default=utcnow)
