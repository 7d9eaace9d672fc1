"""ListMetrics: filters on namespace, name and dimensions, RecentlyActive, 500 metrics a page.

Like AWS, a metric that received no data for two weeks is no longer listed, and one listed with
RecentlyActive=PT3H must have received data in the last three hours. Pages follow metric ids, so a
token stays valid while metrics are added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.cloudwatch import tokens
from cove.services.cloudwatch.tables import MetricRow

__all__ = ["PAGE_SIZE", "list_metrics"]

PAGE_SIZE = 500
_LISTED_MS = 14 * 24 * 3600 * 1000
_RECENT_MS = 3 * 3600 * 1000
_BATCH = 2000


def _matches(dimensions: list[dict[str, str]], filters: list[dict[str, Any]]) -> bool:
    have = {(d["Name"], d["Value"]) for d in dimensions}
    names = {d["Name"] for d in dimensions}
    for wanted in filters:
        value = wanted.get("Value")
        if value is None:
            if wanted["Name"] not in names:
                return False
        elif (wanted["Name"], value) not in have:
            return False
    return True


def list_metrics(
    s: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> dict[str, Any]:
    after = tokens.decode(p["NextToken"], "i")["i"] if p.get("NextToken") else 0
    now_ms = int(now.timestamp() * 1000)
    since = now_ms - (_RECENT_MS if p.get("RecentlyActive") == "PT3H" else _LISTED_MS)
    query = select(MetricRow).where(
        MetricRow.account_id == account_id, MetricRow.region == region, MetricRow.last_put_ms >= since
    )
    if p.get("Namespace"):
        query = query.where(MetricRow.namespace == p["Namespace"])
    if p.get("MetricName"):
        query = query.where(MetricRow.name == p["MetricName"])
    filters: list[dict[str, Any]] = p.get("Dimensions") or []
    found: list[MetricRow] = []
    more = False
    while not more:
        batch = s.scalars(query.where(MetricRow.id > after).order_by(MetricRow.id).limit(_BATCH)).all()
        for row in batch:
            if not _matches(row.dimensions, filters):
                continue
            if len(found) == PAGE_SIZE:
                more = True
                break
            found.append(row)
        if len(batch) < _BATCH:
            break
        after = batch[-1].id
    output: dict[str, Any] = {
        "Metrics": [
            {"Namespace": row.namespace, "MetricName": row.name, "Dimensions": list(row.dimensions)}
            for row in found
        ]
    }
    if p.get("IncludeLinkedAccounts"):
        output["OwningAccounts"] = [account_id for _ in found]
    if more:
        output["NextToken"] = tokens.encode({"i": found[-1].id})
    return output
