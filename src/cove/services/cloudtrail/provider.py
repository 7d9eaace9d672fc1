"""CloudTrail operations: LookupEvents over the audit trail providers record."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.services.cloudtrail.events import flush_events
from cove.services.cloudtrail.lookup import lookup_events

__all__ = ["CloudTrailProvider"]


class CloudTrailProvider(Provider):
    service = "cloudtrail"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation("LookupEvents")
    def lookup_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # Events this process recorded before the lookup are part of its answer.
        flush_events(self.db)
        with self.db.read() as session:
            return lookup_events(session, ctx.account_id, params)
