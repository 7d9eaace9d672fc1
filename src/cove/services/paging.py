"""Marker/MaxItems pagination as IAM and other query services do it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["page"]

T = TypeVar("T")


def page(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    marker: str | None,
    max_items: int | None,
    default: int = 100,
) -> tuple[list[T], dict[str, Any]]:
    """Items sorted by ``key`` after ``marker`` (the last key of the previous page), and the
    ``IsTruncated``/``Marker`` members to return. Markers are keys, so pages stay stable while
    items are added or removed."""
    ordered = sorted(items, key=key)
    if marker:
        ordered = [item for item in ordered if key(item) > marker]
    limit = max_items or default
    chunk = ordered[:limit]
    if len(ordered) > limit:
        return chunk, {"IsTruncated": True, "Marker": key(chunk[-1])}
    return chunk, {"IsTruncated": False}
