"""Shared pieces of the Describe output: stored ISO times back to timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_time", "transitions_view"]


def parse_time(value: str | float | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def transitions_view(steps: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for step in steps or []:
        shown: dict[str, Any] = {"Status": step["Status"], "StartTime": parse_time(step["StartTime"])}
        if step.get("EndTime"):
            shown["EndTime"] = parse_time(step["EndTime"])
        if step.get("StatusMessage") is not None:
            shown["StatusMessage"] = step["StatusMessage"]
        out.append(shown)
    return out
