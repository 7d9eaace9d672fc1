"""Paging tokens: opaque ones for listings and FilterLogEvents, positional ones for GetLogEvents.

An event's position is ``(timestamp, row id)``: the order both event reads walk. GetLogEvents
tokens look like AWS's (``f/<56 digits>/s``, ``b/…``) and encode that position, so a token
handed back at the end of a stream is the token the caller sent (what SDK paginators stop on).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from cove.services.logs.errors import invalid_token

__all__ = ["START", "Position", "decode", "encode", "event_id", "parse_position", "position_token"]

Position = tuple[int, int]
# Before every event: timestamps are never negative and row ids start at 1.
START: Position = (0, 0)
_POSITION = re.compile(r"([fb])/(\d{25})(\d{31})/s")


def encode(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid_token() from None


def position_token(direction: str, position: Position) -> str:
    return f"{direction}/{position[0]:025d}{position[1]:031d}/s"


def parse_position(token: str) -> tuple[str, Position]:
    found = _POSITION.fullmatch(token)
    if found is None:
        raise invalid_token()
    return found.group(1), (int(found.group(2)), int(found.group(3)))


def event_id(position: Position) -> str:
    """FilterLogEvents' ``eventId``: 56 digits, unique, in the events' order."""
    return f"{position[0]:025d}{position[1]:031d}"
