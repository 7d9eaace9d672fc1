"""``Filters`` on Describe calls, as EC2 evaluates them.

Different filters AND together; the values of one filter OR together; ``*`` and ``?`` wildcards
match in values; ``tag:<key>``, ``tag-key`` and ``tag-value`` work on every taggable resource.
Each resource type declares its filters as functions from the resource's Describe view (the dict
the API returns) to the values it offers.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from cove.services.ec2.errors import Ec2Error

__all__ = ["FilterSpec", "apply_filters", "field", "path"]

View = Mapping[str, Any]
FilterSpec = Mapping[str, Callable[[View], Iterable[Any]]]


def field(name: str) -> Callable[[View], Iterable[Any]]:
    """A filter on one top-level member of the view."""
    return lambda view: [view[name]] if name in view and view[name] is not None else []


def path(*names: str) -> Callable[[View], Iterable[Any]]:
    """A filter on a nested member; lists along the way are flattened (``path("Attachments", "VpcId")``)."""

    def values(view: View) -> Iterable[Any]:
        current: list[Any] = [view]
        for name in names:
            nxt: list[Any] = []
            for item in current:
                value = item.get(name) if isinstance(item, Mapping) else None
                if isinstance(value, list):
                    nxt.extend(value)
                elif value is not None:
                    nxt.append(value)
            current = nxt
        return current

    return values


@cache
def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _canonical_cidr(value: str) -> str | None:
    """``10.1.2.3/16`` → ``10.1.0.0/16``; None for anything that is not a CIDR with host bits set."""
    if "/" not in value or any(c in value for c in "*?"):
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    text = str(net)
    return text if text != value else None


def _matches(candidates: Iterable[Any], wanted: list[str]) -> bool:
    texts = [_text(c) for c in candidates]
    # Cove stores CIDRs in canonical form, so a filter value given with host bits set (as the
    # caller passed it at creation) also matches its canonical network.
    wanted = wanted + [c for c in map(_canonical_cidr, wanted) if c is not None]
    return any(_pattern(w).match(t) for w in wanted for t in texts)


def _tag_values(view: View, name: str) -> list[str] | None:
    tags = view.get("Tags") or []
    if name.startswith("tag:"):
        key = name[4:]
        return [t["Value"] for t in tags if t["Key"] == key]
    if name == "tag-key":
        return [t["Key"] for t in tags]
    if name == "tag-value":
        return [t["Value"] for t in tags]
    return None


def apply_filters(
    views: Iterable[View], filters: list[dict[str, Any]] | None, spec: FilterSpec
) -> list[View]:
    """The views every filter matches. An unknown filter name is AWS's ``InvalidParameterValue``."""
    items = list(views)
    for f in filters or []:
        name = f.get("Name", "")
        wanted = [str(v) for v in f.get("Values", [])]
        getter = spec.get(name)
        if getter is None and not (name.startswith("tag:") or name in ("tag-key", "tag-value")):
            raise Ec2Error(f"The filter '{name}' is invalid", code="InvalidParameterValue")
        kept = []
        for view in items:
            values = _tag_values(view, name) if getter is None else list(getter(view))
            if _matches(values or [], wanted):
                kept.append(view)
        items = kept
    return items
