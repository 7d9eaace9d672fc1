"""AWS-shaped identifiers: unique ids (AIDA…, AROA…), access keys (AKIA…/ASIA…), secrets, tokens."""

from __future__ import annotations

import base64
import secrets
import string

__all__ = ["access_key_id", "account_id", "secret_access_key", "session_token", "unique_id"]

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def unique_id(prefix: str) -> str:
    """IAM unique ids are 21 characters: a 4-letter kind prefix and 17 upper-case alphanumerics."""
    return prefix + _random(_UPPER_ALNUM, 17)


def access_key_id(temporary: bool = False) -> str:
    return ("ASIA" if temporary else "AKIA") + _random(_UPPER_ALNUM, 16)


def secret_access_key() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()


def session_token() -> str:
    return "IQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(96)).decode()


def account_id() -> str:
    # Never start with 0 so the id survives tools that treat it as a number.
    return str(secrets.randbelow(9 * 10**11) + 10**11)
