"""ListTrainingJobs / ListProcessingJobs: filters, sort and NextToken paging shared by both."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.services.sagemaker.errors import ValidationException
from cove.services.sagemaker.tables import JobRecord

__all__ = ["decode_token", "encode_token", "list_jobs"]

_DEFAULT_PAGE = 10
_SORT_COLUMNS = {"Name": JobRecord.name, "CreationTime": JobRecord.created, "Status": JobRecord.status}


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise ValidationException("Invalid pagination token. Please provide a valid NextToken.")


def list_jobs(
    session: Session, kind: str, account_id: str, region: str, p: dict[str, Any]
) -> tuple[list[JobRecord], str | None]:
    """One page of the account's jobs of ``kind`` matching the filters, and the next token."""
    query = select(JobRecord).where(
        JobRecord.kind == kind, JobRecord.account_id == account_id, JobRecord.region == region
    )
    if p.get("NameContains"):
        query = query.where(
            func.lower(JobRecord.name).contains(str(p["NameContains"]).lower(), autoescape=True)
        )
    if p.get("StatusEquals"):
        query = query.where(JobRecord.status == p["StatusEquals"])
    if p.get("CreationTimeAfter") is not None:
        query = query.where(JobRecord.created > p["CreationTimeAfter"])
    if p.get("CreationTimeBefore") is not None:
        query = query.where(JobRecord.created < p["CreationTimeBefore"])
    if p.get("LastModifiedTimeAfter") is not None:
        query = query.where(JobRecord.last_modified > p["LastModifiedTimeAfter"])
    if p.get("LastModifiedTimeBefore") is not None:
        query = query.where(JobRecord.last_modified < p["LastModifiedTimeBefore"])
    column = _SORT_COLUMNS[str(p.get("SortBy") or "CreationTime")]
    ascending = p.get("SortOrder") == "Ascending"  # SageMaker lists newest first by default
    query = query.order_by(column.asc() if ascending else column.desc())
    query = query.order_by(JobRecord.id.asc() if ascending else JobRecord.id.desc())
    offset = decode_token(p.get("NextToken"))
    limit = int(p.get("MaxResults") or _DEFAULT_PAGE)
    rows = list(session.scalars(query.offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return rows[:limit], encode_token(offset + limit) if more else None
