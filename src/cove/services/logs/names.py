"""Names, ARNs and times as CloudWatch Logs writes them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cove.services.logs.errors import InvalidParameterException, LogsValidationException

__all__ = [
    "check_group_name",
    "check_stream_name",
    "epoch_ms",
    "group_arn",
    "group_name_of",
    "parse_group_arn",
    "stream_arn",
]

_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_GROUP_ARN = re.compile(r"arn:aws[\w-]*:logs:([\w-]+):(\d{12}):log-group:([\.\-_/#A-Za-z0-9]+)(?::\*)?")


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def group_arn(region: str, account_id: str, name: str) -> str:
    """The ARN without the trailing ``:*`` (``logGroupArn``, tagging, ``logGroupIdentifier``)."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def stream_arn(region: str, account_id: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account_id, group)}:log-stream:{stream}"


def parse_group_arn(arn: str) -> tuple[str, str, str] | None:
    """``(region, account, name)`` of a log group ARN, with or without the trailing ``:*``."""
    found = _GROUP_ARN.fullmatch(arn)
    return (found.group(1), found.group(2), found.group(3)) if found else None


def check_group_name(name: str) -> None:
    """Rules the model's pattern does not carry (and the model's, for callers inside Cove)."""
    if not _GROUP_NAME.fullmatch(name):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: "
            r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"
        )
    if name.lower().startswith("aws/"):
        raise InvalidParameterException("Log groups starting with AWS/ are reserved for AWS.")


def check_stream_name(name: str) -> None:
    if not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise InvalidParameterException(
            f"1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [^:*]*"
        )


def group_name_of(params: dict[str, Any], account_id: str, region: str) -> str | None:
    """The log group a request names through ``logGroupName`` or ``logGroupIdentifier`` (a name or
    an ARN); None when an ARN points at another account or region, which Cove never holds."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name is not None and identifier is not None:
        raise LogsValidationException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if name is not None:
        return str(name)
    if identifier is None:
        raise InvalidParameterException("Either logGroupName or logGroupIdentifier must be specified.")
    if not str(identifier).startswith("arn:"):
        return str(identifier)
    parsed = parse_group_arn(str(identifier))
    if parsed is None:
        raise InvalidParameterException(f"Invalid log group identifier: {identifier}")
    arn_region, arn_account, arn_name = parsed
    return arn_name if (arn_region, arn_account) == (region, account_id) else None
