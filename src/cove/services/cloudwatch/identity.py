"""What makes a metric one metric: namespace, name and the exact set of dimensions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["Dimensions", "dimensions_of", "metric_key"]

Dimensions = list[dict[str, str]]


def dimensions_of(raw: Sequence[Any] | None) -> Dimensions:
    """``[{"Name", "Value"}]`` as given (order kept), from boto3-shaped dimensions."""
    return [{"Name": str(d["Name"]), "Value": str(d["Value"])} for d in raw or ()]


def metric_key(namespace: str, name: str, dimensions: Dimensions) -> str:
    """A metric's identity: dimension order does not matter, as on AWS."""
    canonical = sorted((d["Name"], d["Value"]) for d in dimensions)
    raw = json.dumps([namespace, name, canonical], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
