"""ListObjects / ListObjectsV2: prefix, delimiter (common prefixes), markers and pages.

Keys are walked in UTF-8 binary order straight from the primary key index; a common prefix is
skipped in one jump (to its successor), so a page costs O(page + prefixes), not O(bucket).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.s3.errors import InvalidArgument
from cove.services.s3.tables import S3Object

__all__ = ["Page", "decode_token", "encode_token", "list_page", "url_encode"]

_BATCH = 1000


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            chars[-1] = chr(last + 1)
            return "".join(chars)
        chars.pop()
    return None


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        raise InvalidArgument(
            "The continuation token provided is incorrect", extra={"ArgumentName": "continuation-token"}
        ) from None


def url_encode(value: str) -> str:
    # botocore decodes with unquote_plus: '+' and ' ' must both be escaped.
    return quote(value, safe="/")


@dataclass
class Page:
    objects: list[S3Object] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned


def _group(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def list_page(
    session: Session, bucket: str, *, prefix: str, delimiter: str, after: str | None, max_keys: int
) -> Page:
    """Up to ``max_keys`` keys and common prefixes after ``after`` (a key or a common prefix)."""
    page = Page()
    if max_keys <= 0:
        return page
    low: str | None = prefix or None
    inclusive = True
    if after is not None:
        group = _group(after, prefix, delimiter) if after.startswith(prefix) else None
        if group is not None:
            low, inclusive = successor(group), True
            if low is None:
                return page
        elif low is None or after >= low:
            low, inclusive = after, False
    high = successor(prefix) if prefix else None
    while True:
        query = select(S3Object).where(S3Object.bucket == bucket).order_by(S3Object.key).limit(_BATCH)
        if low is not None:
            query = query.where(S3Object.key >= low if inclusive else S3Object.key > low)
        if high is not None:
            query = query.where(S3Object.key < high)
        rows = list(session.scalars(query))
        if not rows:
            return page
        for row in rows:
            if not row.key.startswith(prefix):
                continue
            group = _group(row.key, prefix, delimiter)
            if len(page.objects) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            if group is not None:
                page.prefixes.append(group)
                page.last = group
                nxt = successor(group)
                if nxt is None:
                    return page
                low, inclusive = nxt, True
                break
            page.objects.append(row)
            page.last = row.key
            low, inclusive = row.key, False
        else:
            if len(rows) < _BATCH:
                return page
