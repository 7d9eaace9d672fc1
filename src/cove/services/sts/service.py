"""STS service functions: who am I, and temporary credentials for roles and sessions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cove.aws.context import Principal
from cove.aws.errors import AccessDenied, ServiceError
from cove.keyring import RootKey
from cove.policy import PolicyKind
from cove.services.iam import ids
from cove.services.iam.accounts import seal_secret
from cove.services.iam.documents import checked
from cove.services.iam.roles import find_role_by_arn
from cove.services.iam.tables import AccessKey, Role, TemporaryCredential
from cove.services.sts.credentials import assumed_role_principal

__all__ = [
    "IssuedCredentials",
    "account_for_key",
    "caller_identity",
    "issue_credentials",
    "role_for_assume",
    "session_duration",
]

# AWS caps role-chained sessions at one hour whatever the role allows.
CHAINED_MAX = 3600
MIN_DURATION = 900


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    principal: Principal | None

    def as_output(self) -> dict[str, Any]:
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }


def caller_identity(principal: Principal) -> dict[str, str]:
    return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}


class ValidationError(ServiceError):
    code = "ValidationError"


def role_for_assume(session: Session, caller: Principal, role_arn: str) -> Role:
    """The role to assume; AWS answers AccessDenied (not NoSuchEntity) when it does not exist."""
    if caller.is_root:
        raise AccessDenied("Roles may not be assumed by root accounts.")
    role = find_role_by_arn(session, role_arn)
    if role is None:
        raise AccessDenied(
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
    return role


def session_duration(requested: int | None, *, maximum: int, chained: bool, default: int = 3600) -> int:
    duration = requested if requested is not None else min(default, maximum)
    if chained and duration > CHAINED_MAX:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )
    if duration > maximum:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    if duration < MIN_DURATION:
        raise ValidationError(
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {MIN_DURATION}"
        )
    return duration


def issue_credentials(
    session: Session,
    key: RootKey,
    *,
    account_id: str,
    now: datetime,
    duration_s: int,
    role: Role | None = None,
    session_name: str | None = None,
    user_id: str | None = None,
    session_policy: str | None = None,
    source_identity: str | None = None,
) -> IssuedCredentials:
    """Mint temporary credentials. Jobs use this too, to hand execution-role credentials to containers."""
    policy_text = checked(session_policy, PolicyKind.SESSION) if session_policy else None
    key_id = ids.access_key_id(temporary=True)
    secret = ids.secret_access_key()
    token = ids.session_token()
    expiration = now.replace(microsecond=0) + timedelta(seconds=duration_s)
    session.add(
        TemporaryCredential(
            access_key_id=key_id,
            account_id=account_id,
            secret_sealed=seal_secret(key, key_id, secret),
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            role_id=role.id if role else None,
            user_id=user_id,
            session_name=session_name,
            session_policy=policy_text,
            source_identity=source_identity,
            expires=expiration,
        )
    )
    if role is not None:
        # No generation.touch: a new key changes no cached IAM value, and RoleLastUsed is read
        # fresh (iam.roles.role_last_used); moving the generation would empty every IAM cache
        # (keys, identity policies) once per job that asks for credentials.
        role.last_used = now
    principal = assumed_role_principal(role, session_name or "") if role is not None else None
    return IssuedCredentials(key_id, secret, token, expiration, principal)


def account_for_key(session: Session, access_key_id: str) -> str:
    row = session.get(AccessKey, access_key_id) or session.get(TemporaryCredential, access_key_id)
    if row is None:
        raise AccessDenied(f"The access key {access_key_id} does not exist.")
    return row.account_id
