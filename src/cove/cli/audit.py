"""``cove audit``: the audit trail as a table (or JSON), read straight from the state directory."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from cove.services.cloudtrail.queries import DENIAL_CODES, EventFilter

__all__ = ["build_filter", "describe_result", "dumps", "parse_since", "render", "source_name"]

_RELATIVE = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w`` before now, or an ISO time (UTC when it names no zone)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a duration (1h, 30m, 2d) or an ISO time: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def source_name(source: str) -> str:
    """``kms`` means ``kms.amazonaws.com``; a full event source is kept."""
    return source if "." in source else f"{source}.amazonaws.com"


def build_filter(
    *,
    source: str | None = None,
    name: str | None = None,
    resource: str | None = None,
    principal: str | None = None,
    denied: bool = False,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
) -> EventFilter:
    return EventFilter(
        event_source=source_name(source) if source else None,
        event_name=name,
        resource_name=resource,
        resource_suffix=True,
        principal_arn=principal,
        denied=denied,
        start=parse_since(since, now) if since else None,
        end=parse_since(until, now) if until else None,
    )


def describe_result(record: dict[str, Any]) -> str:
    """allowed, or denied and by what (the deciding policy statement when the provider said)."""
    auth = (record.get("additionalEventData") or {}).get("authorization")
    code = record.get("errorCode")
    if isinstance(auth, dict) and auth.get("decision") not in (None, "allowed"):
        return _denial(auth)
    if code in DENIAL_CODES:
        return f"denied ({code})"
    if code:
        return f"failed: {code}"
    return "allowed"


def _denial(auth: dict[str, Any]) -> str:
    layer = auth.get("deniedBy")
    if auth["decision"] == "explicitDeny":
        denies = [s for s in auth.get("statements", []) if s.get("effect") == "Deny"]
        if denies:
            first = denies[0]
            where = first.get("policyName") or first.get("policyId") or f"{first.get('policyType')} policy"
            label = first.get("sid") or f"statement {first.get('statementIndex')}"
            return f"denied by {where} ({first.get('policyType')}): {label}"
        return f"denied: explicit deny in {layer or 'a'} policy"
    return f"denied: no {layer or ''} policy allows it".replace("no  policy", "no policy")


def _principal(identity: dict[str, Any]) -> str:
    if identity.get("type") == "AWSAccount" and identity.get("accountId") == "ANONYMOUS_PRINCIPAL":
        return "anonymous"
    return str(identity.get("arn") or identity.get("invokedBy") or identity.get("type", ""))


def _resources(record: dict[str, Any]) -> str:
    return "\n".join(str(r.get("ARN", "")) for r in record.get("resources") or [])


def dumps(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=2)


def render(records: list[dict[str, Any]], console: Console) -> None:
    table = Table()
    # ARNs and policy names are what an audit is read for: wrap them rather than cut them short.
    for header in ("time", "principal", "event", "resource", "result", "VPC endpoint"):
        table.add_column(header, overflow="fold")
    for record in records:
        result = describe_result(record)
        source = str(record.get("eventSource", "")).removesuffix(".amazonaws.com")
        table.add_row(
            str(record.get("eventTime", "")),
            _principal(record.get("userIdentity") or {}),
            f"{source}.{record.get('eventName', '')}",
            _resources(record),
            f"[red]{result}[/]" if result.startswith("denied") else result,
            str(record.get("vpcEndpointId") or ""),
        )
    console.print(table)
