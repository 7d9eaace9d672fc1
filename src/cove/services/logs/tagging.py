"""Tags on log groups, through the resource-ARN operations and the legacy log-group ones."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from cove.services.logs.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    TooManyTagsException,
)
from cove.services.logs.groups import find_group
from cove.services.logs.names import parse_group_arn
from cove.services.logs.tables import LogGroupRow

__all__ = ["MAX_TAGS", "add_tags", "group_for_arn", "remove_tags"]

MAX_TAGS = 50


def group_for_arn(s: Session, account_id: str, region: str, arn: str) -> LogGroupRow:
    """The log group a tagging call's ``resourceArn`` names (the ARN without ``:*``; AWS's other
    taggable resource, destinations, Cove does not have)."""
    parsed = parse_group_arn(arn)
    if parsed is None:
        if arn.startswith("arn:") and ":logs:" in arn:
            raise ResourceNotFoundException("The specified resource does not exist.")
        raise InvalidParameterException(f"Invalid resource ARN: {arn}")
    arn_region, arn_account, name = parsed
    if (arn_region, arn_account) != (region, account_id):
        raise ResourceNotFoundException("The specified resource does not exist.")
    return find_group(s, account_id, region, name)


def add_tags(group: LogGroupRow, tags: dict[str, str], *, legacy: bool = False) -> None:
    merged = {**(group.tags or {}), **tags}
    if len(merged) > MAX_TAGS:
        message = f"A resource can have no more than {MAX_TAGS} tags."
        if legacy:
            raise InvalidParameterException(message)
        raise TooManyTagsException(message, extra={"resourceName": group.name})
    group.tags = merged


def remove_tags(group: LogGroupRow, keys: Iterable[str]) -> None:
    gone = set(keys)
    group.tags = {k: v for k, v in (group.tags or {}).items() if k not in gone}
