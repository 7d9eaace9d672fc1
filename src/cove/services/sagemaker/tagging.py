"""AddTags / ListTags / DeleteTags: tags of any SageMaker resource, keyed by its ARN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cove.services.sagemaker.errors import ResourceLimitExceeded, ValidationException, not_found
from cove.services.sagemaker.listing import decode_token, encode_token
from cove.services.sagemaker.names import parse_arn
from cove.services.sagemaker.tables import TagRow

__all__ = ["MAX_TAGS", "add_tags", "check_arn", "delete_all_tags", "delete_tags", "list_tags", "tags_of"]

MAX_TAGS = 50

# Does a resource of this ARN exist? (None: unknown resource type, nothing to check against.)
Exists = Callable[[Session, str], bool | None]


def check_arn(session: Session, arn: str, account_id: str, region: str, exists: Exists) -> None:
    parsed = parse_arn(arn)
    if parsed is None or parsed[:2] != (region, account_id):
        raise ValidationException(f"Invalid resource ARN: {arn}")
    if exists(session, arn) is False:
        raise not_found()


def tags_of(session: Session, arn: str) -> list[dict[str, str]]:
    rows = session.scalars(select(TagRow).where(TagRow.arn == arn).order_by(TagRow.id))
    return [{"Key": row.key, "Value": row.value} for row in rows]


def add_tags(session: Session, arn: str, tags: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Add or overwrite; SageMaker refuses the keys it reserves and more than 50 tags in all."""
    for tag in tags:
        if str(tag["Key"]).lower().startswith("aws:"):
            raise ValidationException("User-defined tag keys cannot start with 'aws:'.")
    existing = {row.key: row for row in session.scalars(select(TagRow).where(TagRow.arn == arn))}
    new_keys = {str(tag["Key"]) for tag in tags} - set(existing)
    if len(existing) + len(new_keys) > MAX_TAGS:
        raise ResourceLimitExceeded(f"The resource {arn} cannot have more than {MAX_TAGS} tags.")
    for tag in tags:
        key, value = str(tag["Key"]), str(tag.get("Value", ""))
        if key in existing:
            existing[key].value = value
        else:
            existing[key] = TagRow(arn=arn, key=key, value=value)
            session.add(existing[key])
    return [{"Key": str(tag["Key"]), "Value": str(tag.get("Value", ""))} for tag in tags]


def delete_tags(session: Session, arn: str, keys: list[str]) -> None:
    session.execute(delete(TagRow).where(TagRow.arn == arn, TagRow.key.in_(keys)))


def delete_all_tags(session: Session, arn: str) -> None:
    session.execute(delete(TagRow).where(TagRow.arn == arn))


def list_tags(session: Session, arn: str, next_token: str | None, max_results: int | None) -> dict[str, Any]:
    tags = tags_of(session, arn)
    start = decode_token(next_token)
    limit = max_results or MAX_TAGS
    out: dict[str, Any] = {"Tags": tags[start : start + limit]}
    if start + limit < len(tags):
        out["NextToken"] = encode_token(start + limit)
    return out
