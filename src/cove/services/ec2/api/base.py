"""What every EC2 handler family shares: the database and the per-request account/region."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import Output, Provider
from cove.db import Database
from cove.services.ec2 import vpcs
from cove.services.ec2.changes import ChangeFeed
from cove.services.ec2.errors import Ec2Error

__all__ = ["Ec2Operations"]


class Ec2Operations(Provider):
    """Every EC2 handler honours ``DryRun`` and finds the caller's default VPC in place: this base
    wraps them all, so no family repeats either."""

    service = "ec2"

    def __init__(self, db: Database, changes: ChangeFeed | None = None) -> None:
        self.db = db
        self.changes = changes or ChangeFeed()

    def handler(self, operation_name: str) -> Callable[[RequestContext, dict[str, Any]], Output] | None:
        fn = super().handler(operation_name)
        if fn is None:
            return None
        # Reads change nothing; everything else may, and the kernel layer reconciles after it.
        mutates = not operation_name.startswith(("Describe", "Get", "List", "Search"))

        def run(ctx: RequestContext, params: dict[str, Any]) -> Output:
            if params.get("DryRun"):
                raise Ec2Error(
                    "Request would have succeeded, but DryRun flag is set.",
                    code="DryRunOperation",
                    status=412,
                )
            account, region = ctx.account_id, ctx.region
            if not vpcs.default_vpc_ready(account, region):
                with vpcs.DEFAULT_VPC_LOCK:
                    if not vpcs.default_vpc_ready(account, region):
                        with self.db.session() as s:
                            vpcs.ensure_default_vpc(s, account, region)
                        vpcs.mark_default_vpc_ready(account, region)
                        self.changes.publish(account, region)
            result = fn(ctx, params)
            if mutates:
                self.changes.publish(account, region)
            return result

        return run
