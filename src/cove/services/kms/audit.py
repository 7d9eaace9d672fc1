"""The audit hook: every KMS use, allowed or denied, is recorded (who, what, which key, from where)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cove.aws.context import RequestContext

__all__ = ["KmsUse", "record"]

log = logging.getLogger("cove.kms")


@dataclass(slots=True)
class KmsUse:
    """One KMS API call or service-function use. Never holds plaintext or key material."""

    ctx: RequestContext
    operation: str
    key_arn: str | None
    allowed: bool
    error_code: str | None = None
    error_message: str | None = None
    via_service: str | None = None
    request_parameters: dict[str, Any] = field(default_factory=dict)


def record(use: KmsUse) -> None:
    """Until the CloudTrail store exists, KMS uses go to the log."""
    log.info(
        "kms use",
        extra={
            "operation": use.operation,
            "principal": use.ctx.principal.arn,
            "key": use.key_arn,
            "allowed": use.allowed,
            "error": use.error_code,
            "vpce": use.ctx.source.vpce_id,
            "via": use.via_service,
        },
    )
