"""HTTP preconditions (If-Match & co.) and byte ranges, evaluated the way S3 does (RFC 9110)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cove.services.s3.errors import InvalidRange, PreconditionFailed

__all__ = ["NOT_MODIFIED", "ByteRange", "check_preconditions", "parse_range"]

NOT_MODIFIED = "not-modified"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == bare:
            return True
    return False


def _seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def check_preconditions(
    params: dict[str, Any], etag: str, last_modified: datetime, *, prefix: str = "", read: bool = True
) -> str | None:
    """Raise PreconditionFailed (412); return NOT_MODIFIED where a GET/HEAD should answer 304.

    ``prefix`` selects CopySource conditions (``CopySourceIfMatch``…), which fail with 412 throughout."""
    if_match = params.get(f"{prefix}IfMatch")
    if_none_match = params.get(f"{prefix}IfNoneMatch")
    if_modified = params.get(f"{prefix}IfModifiedSince")
    if_unmodified = params.get(f"{prefix}IfUnmodifiedSince")
    modified = _seconds(last_modified)
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold",
                extra={"Condition": "If-Match"},
            )
    elif if_unmodified is not None and modified > _seconds(if_unmodified):
        raise PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold",
            extra={"Condition": "If-Unmodified-Since"},
        )
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            if read and not prefix:
                return NOT_MODIFIED
            raise PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold",
                extra={"Condition": "If-None-Match"},
            )
    elif if_modified is not None and modified <= _seconds(if_modified):
        if read and not prefix:
            return NOT_MODIFIED
        raise PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold",
            extra={"Condition": "If-Modified-Since"},
        )
    return None


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range a ``Range`` header asks for; None for the whole object (absent or not a single
    ``bytes=`` range, which S3 ignores); InvalidRange (416) when it cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    end = size if not last else int(last) + 1
    if last and int(last) < start:
        return None  # syntactically invalid: ignored, as S3 does
    if start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, min(end, size))


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(
        "The requested range is not satisfiable",
        extra={"RangeRequested": header, "ActualObjectSize": str(size)},
    )
