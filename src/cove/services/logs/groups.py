"""Log groups: create, find, delete, describe, retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cove.services.logs import tokens
from cove.services.logs.errors import (
    GROUP_EXISTS,
    GROUP_MISSING,
    InvalidParameterException,
    LogsValidationException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    invalid_token,
)
from cove.services.logs.names import check_group_name, group_arn, parse_group_arn
from cove.services.logs.tables import LogEventRow, LogGroupRow, LogStreamRow

__all__ = [
    "RETENTION_DAYS",
    "create_group",
    "delete_group",
    "describe_groups",
    "find_group",
    "forget_events",
    "group_view",
    "purge_expired",
    "put_retention",
    "retention_floor",
]

Out = dict[str, Any]

RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
_DAY_MS = 86_400_000


def find_group(s: Session, account_id: str, region: str, name: str | None) -> LogGroupRow:
    row = (
        None
        if name is None
        else s.scalar(
            select(LogGroupRow).where(
                LogGroupRow.account_id == account_id, LogGroupRow.region == region, LogGroupRow.name == name
            )
        )
    )
    if row is None:
        raise ResourceNotFoundException(GROUP_MISSING)
    return row


def create_group(
    s: Session,
    account_id: str,
    region: str,
    name: str,
    now_ms: int,
    *,
    kms_key_id: str | None = None,
    tags: dict[str, str] | None = None,
    log_group_class: str | None = None,
    deletion_protection: bool = False,
) -> LogGroupRow:
    check_group_name(name)
    row = LogGroupRow(
        account_id=account_id,
        region=region,
        name=name,
        created_ms=now_ms,
        kms_key_id=kms_key_id,
        log_group_class=log_group_class or "STANDARD",
        deletion_protection=deletion_protection,
        tags=dict(tags or {}),
        stored_bytes=0,
    )
    try:
        # A savepoint, so a concurrent creator's win leaves the caller's transaction usable.
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise ResourceAlreadyExistsException(GROUP_EXISTS) from None
    return row


def delete_group(s: Session, group: LogGroupRow) -> None:
    if group.deletion_protection:
        raise LogsValidationException(
            f"Log group {group.name} has deletion protection enabled. Disable it before deleting the log group."
        )
    # Explicit deletes: one statement per table, whatever the number of events.
    s.execute(delete(LogEventRow).where(LogEventRow.group_id == group.id))
    s.execute(delete(LogStreamRow).where(LogStreamRow.group_id == group.id))
    s.delete(group)


def put_retention(s: Session, group: LogGroupRow, days: int | None, now_ms: int) -> None:
    if days is not None and days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]"
        )
    group.retention_days = days
    purge_expired(s, group, now_ms)


def retention_floor(group: LogGroupRow, now_ms: int) -> int | None:
    """The oldest timestamp the group's retention keeps (None: it keeps everything)."""
    return None if group.retention_days is None else now_ms - group.retention_days * _DAY_MS


def purge_expired(s: Session, group: LogGroupRow, now_ms: int) -> int:
    """Delete the events the group's retention no longer keeps; how many went."""
    floor = retention_floor(group, now_ms)
    if floor is None:
        return 0
    return forget_events(s, group, LogEventRow.timestamp < floor)


def forget_events(s: Session, group: LogGroupRow, *where: Any) -> int:
    """Delete the group's events matching ``where`` and take their bytes off storedBytes."""
    condition = and_(LogEventRow.group_id == group.id, *where)
    count, size = s.execute(
        select(func.count(), func.coalesce(func.sum(LogEventRow.size), 0)).where(condition)
    ).one()
    if count:
        s.execute(delete(LogEventRow).where(condition))
        s.execute(
            update(LogGroupRow)
            .where(LogGroupRow.id == group.id)
            .values(stored_bytes=LogGroupRow.stored_bytes - size)
            .execution_options(synchronize_session=False)
        )
        s.refresh(group)
    return int(count)


def group_view(row: LogGroupRow, *, brief: bool = False) -> Out:
    arn = group_arn(row.region, row.account_id, row.name)
    if brief:
        # What DescribeLogGroups returns when a logGroupNamePattern is given.
        return {"logGroupName": row.name, "creationTime": row.created_ms, "arn": f"{arn}:*"}
    view: Out = {
        "logGroupName": row.name,
        "creationTime": row.created_ms,
        "metricFilterCount": 0,
        "arn": f"{arn}:*",
        "storedBytes": row.stored_bytes,
        "logGroupClass": row.log_group_class,
        "logGroupArn": arn,
        "deletionProtectionEnabled": row.deletion_protection,
    }
    if row.retention_days is not None:
        view["retentionInDays"] = row.retention_days
    if row.kms_key_id:
        view["kmsKeyId"] = row.kms_key_id
    return view


def describe_groups(s: Session, account_id: str, region: str, p: dict[str, Any]) -> Out:
    prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
    identifiers = p.get("logGroupIdentifiers")
    if prefix is not None and pattern is not None:
        raise InvalidParameterException(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise InvalidParameterException(
            "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
        )
    rows = s.scalars(
        select(LogGroupRow).where(LogGroupRow.account_id == account_id, LogGroupRow.region == region)
    ).all()
    # Names compare as Python strings (code points): ASCII order whatever the database's collation.
    chosen = sorted(rows, key=lambda r: r.name)
    if prefix is not None:
        chosen = [r for r in chosen if r.name.startswith(prefix)]
    if pattern:
        chosen = [r for r in chosen if pattern in r.name]
    if identifiers is not None:
        wanted = {_identifier_name(str(i), account_id, region) for i in identifiers}
        chosen = [r for r in chosen if r.name in wanted]
    if p.get("logGroupClass"):
        classes = {p["logGroupClass"]}
        if classes & {"INFREQUENT_ACCESS", "ESSENTIALS"}:
            classes |= {"INFREQUENT_ACCESS", "ESSENTIALS"}
        chosen = [r for r in chosen if r.log_group_class in classes]
    token = p.get("nextToken")
    if token is not None:
        after = tokens.decode(token)
        if not isinstance(after, str):
            raise invalid_token()
        chosen = [r for r in chosen if r.name > after]
    limit = p.get("limit") or 50
    page = chosen[:limit]
    out: Out = {"logGroups": [group_view(r, brief=pattern is not None) for r in page]}
    if len(chosen) > limit:
        out["nextToken"] = tokens.encode(page[-1].name)
    return out


def _identifier_name(identifier: str, account_id: str, region: str) -> str | None:
    if not identifier.startswith("arn:"):
        return identifier
    parsed = parse_group_arn(identifier)
    if parsed is None or parsed[:2] != (region, account_id):
        return None
    return parsed[2]
