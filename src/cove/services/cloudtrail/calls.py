"""Whole-service recording: every call of chosen services as a management event.

:class:`ApiCallRecorder` is shaped for a post-dispatch hook in the gateway (the context, the
parsed parameters and the error if any), so IAM and STS can be audited without touching their
providers. Providers that explain their own decisions (KMS, S3) record through
:func:`~cove.services.cloudtrail.events.record_event` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cove.aws.context import RequestContext
from cove.aws.errors import ServiceError
from cove.db import Database
from cove.services.cloudtrail.events import event_from_context, record_event

__all__ = ["HIDDEN", "ApiCallRecorder", "is_read_only", "request_parameters"]

# CloudTrail's placeholder for values it will not log.
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
_SECRET = re.compile(r"password|secret|plaintext|privatekey|sessiontoken|^token$|^body$", re.IGNORECASE)
_READS = ("Get", "List", "Describe", "Head", "Lookup", "Simulate", "Decode")


def is_read_only(operation: str) -> bool:
    return operation.startswith(_READS)


def request_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as CloudTrail logs them: lowerCamel member names, secrets and payloads hidden."""
    return {_camel(k): HIDDEN if _SECRET.search(k) else _value(v) for k, v in params.items()}


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return request_parameters(value)
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, bytes | bytearray) or hasattr(value, "read"):
        return HIDDEN
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _camel(name: str) -> str:
    """``RoleName`` -> ``roleName``, ``ACL`` -> ``acl``, ``KMSKeyId`` -> ``kmsKeyId``."""
    lead = len(name) - len(name.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if lead == len(name):
        return name.lower()
    if lead <= 1:
        return name[:1].lower() + name[1:]
    # The last capital of a leading acronym starts the next word.
    return name[: lead - 1].lower() + name[lead - 1 :]


class ApiCallRecorder:
    """Records the calls of ``services`` (botocore names) as management events."""

    def __init__(self, db: Database, services: Iterable[str] = ("iam", "sts")) -> None:
        self.db = db
        self.services = frozenset(services)

    def __call__(
        self,
        ctx: RequestContext,
        params: dict[str, Any],
        error: ServiceError | None = None,
        *,
        user_agent: str | None = None,
    ) -> None:
        if ctx.service not in self.services:
            return
        event = event_from_context(
            ctx,
            source=f"{ctx.service}.amazonaws.com",
            name=ctx.operation,
            read_only=is_read_only(ctx.operation),
            request_parameters=request_parameters(params),
            error_code=error.code if error is not None else None,
            error_message=error.message if error is not None else None,
            user_agent=user_agent,
        )
        record_event(self.db, event)
