"""Policy documents as IAM stores and returns them."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from cove.policy import PolicyError, PolicyKind, parse_policy
from cove.services.iam.errors import MalformedPolicyDocument

__all__ = ["checked", "normalise", "wire"]


def normalise(document: str) -> str:
    """Accept a JSON document or one URL-encoded as some tools send it; keep the caller's text."""
    text = document.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    return text


def checked(document: str, kind: PolicyKind) -> str:
    """The document, validated as ``kind``; MalformedPolicyDocument with the parser's reason otherwise."""
    text = normalise(document)
    try:
        json.loads(text)
    except ValueError:
        raise MalformedPolicyDocument("This policy contains invalid Json") from None
    try:
        parse_policy(text, kind=kind)
    except PolicyError as exc:
        raise MalformedPolicyDocument(str(exc)) from None
    return text


def wire(document: str) -> str:
    """IAM returns policy documents URL-encoded; boto3 and the CLI decode them into objects."""
    return quote(document, safe="")
