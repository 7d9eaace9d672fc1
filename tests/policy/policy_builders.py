"""Small builders shared by the policy tests (not a test module)."""

from __future__ import annotations

from typing import Any

from cove.policy import Policy, PolicyKind, Principal, parse_policy

__all__ = [
    "ACCOUNT",
    "ALICE",
    "ALICE_ARN",
    "BOB",
    "OTHER_ACCOUNT",
    "SESSION",
    "SESSION_ARN",
    "policy",
    "stmt",
]

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
ALICE = Principal.user(ALICE_ARN, user_id="AIDAALICE")
BOB = Principal.user(f"arn:aws:iam::{OTHER_ACCOUNT}:user/bob")
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Trainer/job-1"
SESSION = Principal.assumed_role(SESSION_ARN, user_id="AROATRAINER:job-1")


def stmt(
    sid: str | None,
    effect: str,
    action: str | list[str] | None = None,
    resource: str | list[str] | None = "*",
    **extra: Any,
) -> dict[str, Any]:
    """A statement; ``not_action``/``not_resource``/``principal``/``condition`` go through ``extra``."""
    body: dict[str, Any] = {"Effect": effect}
    if sid is not None:
        body["Sid"] = sid
    if action is not None:
        body["Action"] = action
    if resource is not None and "not_resource" not in extra:
        body["Resource"] = resource
    names = {
        "not_action": "NotAction",
        "not_resource": "NotResource",
        "principal": "Principal",
        "not_principal": "NotPrincipal",
        "condition": "Condition",
    }
    for key, value in extra.items():
        body[names[key]] = value
    return body


def policy(
    *statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY, version: str | None = "2012-10-17"
) -> Policy:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return parse_policy(document, kind=kind, name=f"{kind}-test")
