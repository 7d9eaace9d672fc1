"""Opaque paging tokens (base64 JSON), and AWS's error for one that does not decode."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cove.services.cloudwatch.errors import InvalidNextToken

__all__ = ["decode", "encode"]


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, *fields: str) -> dict[str, Any]:
    """The payload, which must be an object holding integer ``fields``."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        payload = None
    if not isinstance(payload, dict) or any(not isinstance(payload.get(f), int) for f in fields):
        raise InvalidNextToken("The service cannot process the given NextToken.")
    return payload
