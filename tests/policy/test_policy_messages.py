"""AccessDenied wording, single-policy checks (trust policies) and the request context helpers."""

from __future__ import annotations

import pytest
from policy_builders import ACCOUNT, ALICE, ALICE_ARN, SESSION, policy, stmt

from cove.policy import (
    Decision,
    EvalDecision,
    PolicyKind,
    PolicyLayer,
    Principal,
    RequestContext,
    evaluate,
    is_allowed_by,
)

KEY = "arn:aws:s3:::b/k"
PREFIX = f'User: {ALICE_ARN} is not authorized to perform: s3:GetObject on resource: "{KEY}"'


def _ctx(**keys: str) -> RequestContext:
    return RequestContext("s3:GetObject", KEY, ALICE, keys)


def test_no_identity_policy_message() -> None:
    decision = evaluate(_ctx(), identity_policies=[policy(stmt(None, "Allow", "s3:PutObject"))])
    assert decision.access_denied_message(ALICE_ARN, "s3:GetObject", KEY) == (
        f"{PREFIX} because no identity-based policy allows the s3:GetObject action"
    )


def test_explicit_deny_in_resource_policy_message() -> None:
    bucket = policy(stmt("Deny", "Deny", "s3:*", KEY, principal="*"), kind=PolicyKind.RESOURCE)
    decision = evaluate(_ctx(), resource_policy=bucket, resource_account=ACCOUNT)
    assert decision.access_denied_message(ALICE_ARN, "s3:GetObject", KEY) == (
        f"{PREFIX} with an explicit deny in a resource-based policy"
    )


def test_endpoint_messages() -> None:
    allow = [policy(stmt(None, "Allow", "s3:*"))]
    narrow = policy(stmt(None, "Allow", "s3:ListBucket", principal="*"), kind=PolicyKind.ENDPOINT)
    implicit = evaluate(_ctx(), identity_policies=allow, endpoint_policy=narrow)
    assert implicit.access_denied_message(ALICE_ARN, "s3:GetObject", KEY) == (
        f"{PREFIX} because no VPC endpoint policy allows the s3:GetObject action"
    )
    deny = policy(stmt(None, "Deny", "s3:*", principal="*"), kind=PolicyKind.ENDPOINT)
    explicit = evaluate(_ctx(), identity_policies=allow, endpoint_policy=deny)
    assert explicit.access_denied_message(ALICE_ARN, "s3:GetObject", KEY) == (
        f"{PREFIX} with an explicit deny in a VPC endpoint policy"
    )


def test_message_without_resource_matches_aws_doc() -> None:
    decision = Decision(EvalDecision.IMPLICIT_DENY, denied_by=PolicyLayer.ENDPOINT)
    arn = "arn:aws:iam::123456789012:user/JohnDoe"
    assert decision.access_denied_message(arn, "codecommit:ListRepositories") == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: "
        "codecommit:ListRepositories "
        "because no VPC endpoint policy allows the codecommit:ListRepositories action"
    )


@pytest.mark.parametrize(
    ("layer", "result", "tail"),
    [
        (
            PolicyLayer.BOUNDARY,
            EvalDecision.IMPLICIT_DENY,
            "because no permissions boundary allows the s3:GetObject action",
        ),
        (
            PolicyLayer.SESSION,
            EvalDecision.IMPLICIT_DENY,
            "because no session policy allows the s3:GetObject action",
        ),
        (
            PolicyLayer.RESOURCE,
            EvalDecision.IMPLICIT_DENY,
            "because no resource-based policy allows the s3:GetObject action",
        ),
        (
            PolicyLayer.IDENTITY,
            EvalDecision.EXPLICIT_DENY,
            "with an explicit deny in an identity-based policy",
        ),
        (PolicyLayer.BOUNDARY, EvalDecision.EXPLICIT_DENY, "with an explicit deny in a permissions boundary"),
        (PolicyLayer.SESSION, EvalDecision.EXPLICIT_DENY, "with an explicit deny in a session policy"),
    ],
)
def test_message_per_layer(layer: PolicyLayer, result: EvalDecision, tail: str) -> None:
    decision = Decision(result, denied_by=layer)
    assert decision.access_denied_message(ALICE_ARN, "s3:GetObject", KEY) == f"{PREFIX} {tail}"


def test_allowed_decision_has_no_message() -> None:
    decision = evaluate(_ctx(), identity_policies=[policy(stmt(None, "Allow", "s3:*"))])
    assert decision.allowed
    with pytest.raises(ValueError):
        decision.access_denied_message(ALICE_ARN, "s3:GetObject", KEY)


def test_matched_statement_cites_policy() -> None:
    decision = evaluate(
        _ctx(),
        identity_policies=[policy(stmt(None, "Allow", "s3:PutObject"), stmt("Read", "Allow", "s3:Get*"))],
    )
    (matched,) = decision.matched_statements
    assert matched.policy_type is PolicyLayer.IDENTITY
    assert matched.policy_name == "identity-test"
    assert (matched.sid, matched.statement_index) == ("Read", 1)


TRUST = policy(
    {
        "Sid": "SageMaker",
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    },
    {
        "Sid": "Admins",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Trainer"},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    },
    kind=PolicyKind.TRUST,
)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Exec"


def test_trust_policy_allows_service() -> None:
    result = is_allowed_by(
        TRUST, RequestContext("sts:AssumeRole", ROLE, Principal.service("sagemaker.amazonaws.com"))
    )
    assert result.allowed
    assert result.result == "allowed"
    assert [s.sid for s in result.matched_statements] == ["SageMaker"]


def test_trust_policy_rejects_other_service() -> None:
    result = is_allowed_by(
        TRUST, RequestContext("sts:AssumeRole", ROLE, Principal.service("lambda.amazonaws.com"))
    )
    assert result.decision is EvalDecision.IMPLICIT_DENY
    assert result.matched_statements == ()


def test_trust_policy_role_session_needs_mfa() -> None:
    without = is_allowed_by(TRUST, RequestContext("sts:AssumeRole", ROLE, SESSION))
    assert not without.allowed
    assert without.missing_context_keys == ("aws:MultiFactorAuthPresent",)
    with_mfa = is_allowed_by(
        TRUST, RequestContext("sts:AssumeRole", ROLE, SESSION, {"aws:MultiFactorAuthPresent": "true"})
    )
    assert [s.sid for s in with_mfa.matched_statements] == ["Admins"]


def test_global_keys_from_principal() -> None:
    ctx = RequestContext("s3:GetObject", KEY, ALICE, {"AWS:SourceVpce": "vpce-1"})
    assert ctx.principal_arn == ALICE_ARN
    assert ctx.principal_account == ACCOUNT
    assert ctx.username == "alice"
    assert ctx.userid == "AIDAALICE"
    assert ctx.values("aws:sourcevpce") == ("vpce-1",)
    assert ctx.values("aws:PrincipalType") == ("User",)
    assert ctx.values("aws:SourceIp") is None


def test_session_principal_arn_is_the_role() -> None:
    ctx = RequestContext("s3:GetObject", KEY, SESSION)
    assert ctx.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/Trainer"
    assert ctx.username is None
    assert ctx.values("aws:PrincipalType") == ("AssumedRole",)


def test_principal_from_arn() -> None:
    assert Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:root") == Principal.root(ACCOUNT)
    assert Principal.from_arn(ALICE_ARN).username == "alice"
    session = Principal.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/Trainer/s")
    assert session.role_arn == f"arn:aws:iam::{ACCOUNT}:role/Trainer"
    assert Principal.from_arn("sagemaker.amazonaws.com").type == "Service"
