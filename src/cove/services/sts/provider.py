"""STS operations."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.errors import AccessDenied
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.keyring import RootKey
from cove.policy import PolicyKind, parse_policy
from cove.services.iam.authorizer import IamAuthorizer
from cove.services.sts import service

__all__ = ["StsProvider"]


class StsProvider(Provider):
    service = "sts"
    # GetCallerIdentity and GetSessionToken need no permission; AssumeRole weighs the trust policy with identity policies.
    self_authorized = frozenset({"GetCallerIdentity", "GetSessionToken", "AssumeRole"})
    blocking = frozenset({"GetSessionToken"})  # it stores new credentials

    def __init__(self, db: Database, key: RootKey, authorizer: IamAuthorizer) -> None:
        self.db = db
        self.key = key
        self.authorizer = authorizer

    @operation("GetCallerIdentity")
    def get_caller_identity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return service.caller_identity(ctx.principal)

    @operation("AssumeRole")
    def assume_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role_arn = params["RoleArn"]
        with self.db.session() as session:
            role = service.role_for_assume(session, ctx.principal, role_arn)
            trust = parse_policy(role.assume_role_policy, kind=PolicyKind.TRUST, name="trust policy")
            extra: dict[str, str | list[str]] = {}
            if "ExternalId" in params:
                extra["sts:ExternalId"] = params["ExternalId"]
            if "SourceIdentity" in params:
                extra["sts:SourceIdentity"] = params["SourceIdentity"]
            decision = self.authorizer.decide(
                ctx,
                "sts:AssumeRole",
                role.arn,
                resource_policy=trust,
                resource_account=role.account_id,
                extra_keys=extra,
            )
            if not decision.allowed:
                raise AccessDenied(
                    f"User: {ctx.principal.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                )
            duration = service.session_duration(
                params.get("DurationSeconds"),
                maximum=role.max_session_duration,
                chained=ctx.principal.kind == "assumed-role",
            )
            issued = service.issue_credentials(
                session,
                self.key,
                account_id=role.account_id,
                now=ctx.now,
                duration_s=duration,
                role=role,
                session_name=params["RoleSessionName"],
                session_policy=params.get("Policy"),
                source_identity=params.get("SourceIdentity"),
            )
        assert issued.principal is not None
        out: dict[str, Any] = {
            "Credentials": issued.as_output(),
            "AssumedRoleUser": {"AssumedRoleId": issued.principal.user_id, "Arn": issued.principal.arn},
            "PackedPolicySize": 6 if params.get("Policy") else 0,
        }
        if "SourceIdentity" in params:
            out["SourceIdentity"] = params["SourceIdentity"]
        return out

    @operation("GetSessionToken")
    def get_session_token(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if ctx.principal.kind == "assumed-role":
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        duration = params.get("DurationSeconds", 43200 if not ctx.principal.is_root else 3600)
        maximum = 3600 if ctx.principal.is_root else 129600
        duration = service.session_duration(duration, maximum=maximum, chained=False)
        with self.db.session() as session:
            issued = service.issue_credentials(
                session,
                self.key,
                account_id=ctx.account_id,
                now=ctx.now,
                duration_s=duration,
                user_id=ctx.principal.user_id if ctx.principal.kind == "user" else None,
            )
        return {"Credentials": issued.as_output()}

    @operation("GetAccessKeyInfo")
    def get_access_key_info(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.db.read() as session:
            return {"Account": service.account_for_key(session, params["AccessKeyId"])}
