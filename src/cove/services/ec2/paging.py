"""``MaxResults``/``NextToken`` pagination of EC2 Describe calls."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from cove.services.ec2.errors import Ec2Error

__all__ = ["paginate"]

T = TypeVar("T")


def paginate(
    items: Sequence[T], max_results: int | None, next_token: str | None
) -> tuple[list[T], dict[str, Any]]:
    """A page of ``items`` (already in a stable order) and the ``NextToken`` member if more remain."""
    start = 0
    if next_token:
        try:
            start = int(base64.urlsafe_b64decode(next_token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise Ec2Error(f"Invalid token: {next_token}", code="InvalidNextToken") from None
    if max_results is None:
        return list(items[start:]), {}
    end = start + max_results
    extra = {"NextToken": base64.urlsafe_b64encode(str(end).encode()).decode()} if end < len(items) else {}
    return list(items[start:end]), extra
