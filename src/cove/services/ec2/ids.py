"""EC2 resource ids: a type prefix and 17 lower-case hex digits (``vpc-0a1b…``)."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"
