"""Evaluation cases taken from AWS's documented examples (IAM user guide, S3 and VPC endpoint guides)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from policy_builders import ACCOUNT, ALICE, BOB, OTHER_ACCOUNT, SESSION, SESSION_ARN, policy, stmt

from cove.policy import Policy, PolicyKind, Principal, RequestContext, evaluate

R = PolicyKind.RESOURCE
E = PolicyKind.ENDPOINT
BUCKET = "arn:aws:s3:::b"
KEY = "arn:aws:s3:::b/k"
VPCE = "vpce-1a2b3c4d"
ALICE_P = {"AWS": ALICE.arn}


@dataclass(frozen=True)
class Case:
    ctx: RequestContext
    policies: dict[str, Any]
    result: str
    sids: tuple[str, ...] = ()
    denied_by: str | None = None
    missing: tuple[str, ...] | None = None
    resource_account: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def get(
    resource: str = KEY, principal: Principal = ALICE, action: str = "s3:GetObject", **keys: Any
) -> RequestContext:
    return RequestContext(action=action, resource=resource, principal=principal, keys=keys)


def ctx_keys(action: str = "s3:GetObject", resource: str = KEY, **keys: Any) -> RequestContext:
    return get(resource=resource, action=action, **{k.replace("__", ":"): v for k, v in keys.items()})


def ident(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    return {"identity_policies": [policy(*statements, version=version)]}


ALLOW_S3 = stmt("AllowS3", "Allow", "s3:*")
ALLOW_ALL = stmt("AllowAll", "Allow", "*")
DEFAULT_ENDPOINT = policy(stmt(None, "Allow", "*", principal="*"), kind=E)


def cond_allow(
    condition: dict[str, Any], action: str = "s3:GetObject", version: str = "2012-10-17"
) -> Policy:
    return policy(stmt("Cond", "Allow", action, condition=condition), version=version)


CASES: dict[str, Case] = {
    # --- identity policies, Action / NotAction ---
    "allow-matching-action": Case(
        get(), ident(stmt("Get", "Allow", "s3:GetObject", KEY)), "allowed", ("Get",)
    ),
    "implicit-deny-without-statement": Case(
        get(action="s3:PutObject"),
        ident(stmt("Get", "Allow", "s3:GetObject")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "explicit-deny-overrides-allow": Case(
        get(action="s3:DeleteObject"),
        ident(ALLOW_S3, stmt("NoDelete", "Deny", "s3:DeleteObject")),
        "explicitDeny",
        ("NoDelete",),
        "identity-based",
    ),
    "action-case-insensitive": Case(get(), ident(stmt("Get", "Allow", "S3:getobject")), "allowed", ("Get",)),
    "action-star-prefix": Case(
        get(action="s3:PutObject"),
        ident(stmt("Get", "Allow", "s3:Get*")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "action-question-mark": Case(get(), ident(stmt("Q", "Allow", "s3:?etObject")), "allowed", ("Q",)),
    "action-wildcard-in-middle": Case(
        get(action="iam:CreateAccessKey", resource="*"),
        ident(stmt("Keys", "Allow", "iam:*AccessKey*")),
        "allowed",
        ("Keys",),
    ),
    "notaction-allow-grants-others": Case(
        get(), ident(stmt("NotIam", "Allow", None, not_action="iam:*")), "allowed", ("NotIam",)
    ),
    "notaction-allow-excludes-listed": Case(
        get(action="iam:CreateUser", resource="*"),
        ident(stmt("NotIam", "Allow", None, not_action="iam:*")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "notaction-deny-denies-everything-else": Case(
        get(action="ec2:RunInstances", resource="*"),
        ident(ALLOW_ALL, stmt("OnlyS3", "Deny", None, not_action="s3:*")),
        "explicitDeny",
        ("OnlyS3",),
        "identity-based",
    ),
    "notaction-deny-spares-listed": Case(
        get(), ident(ALLOW_ALL, stmt("OnlyS3", "Deny", None, not_action="s3:*")), "allowed", ("AllowAll",)
    ),
    # --- Resource / NotResource ---
    "notresource-deny-outside-public": Case(
        get(resource="arn:aws:s3:::b/private/x"),
        ident(ALLOW_S3, stmt("PublicOnly", "Deny", "s3:*", not_resource="arn:aws:s3:::b/public/*")),
        "explicitDeny",
        ("PublicOnly",),
        "identity-based",
    ),
    "notresource-deny-spares-listed": Case(
        get(resource="arn:aws:s3:::b/public/x"),
        ident(ALLOW_S3, stmt("PublicOnly", "Deny", "s3:*", not_resource="arn:aws:s3:::b/public/*")),
        "allowed",
        ("AllowS3",),
    ),
    "resource-case-sensitive": Case(
        get(),
        ident(stmt("Get", "Allow", "s3:GetObject", "arn:aws:s3:::B/*")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "resource-star-spans-slash": Case(
        get(resource="arn:aws:s3:::b/a/b/c.txt"),
        ident(stmt("Get", "Allow", "s3:GetObject", "arn:aws:s3:::b/*")),
        "allowed",
        ("Get",),
    ),
    "resource-question-mark-one-char": Case(
        get(resource="arn:aws:s3:::b/file1.txt"),
        ident(stmt("Get", "Allow", "s3:GetObject", "arn:aws:s3:::b/file?.txt")),
        "allowed",
        ("Get",),
    ),
    "resource-question-mark-not-two": Case(
        get(resource="arn:aws:s3:::b/file10.txt"),
        ident(stmt("Get", "Allow", "s3:GetObject", "arn:aws:s3:::b/file?.txt")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "resource-wildcard-account-field": Case(
        get(action="iam:PassRole", resource=f"arn:aws:iam::{ACCOUNT}:role/Trainer"),
        ident(stmt("Pass", "Allow", "iam:PassRole", "arn:aws:iam::*:role/*")),
        "allowed",
        ("Pass",),
    ),
    # --- policy variables ---
    "variable-username-own-prefix": Case(
        get(resource="arn:aws:s3:::b/home/alice/notes"),
        ident(stmt("Home", "Allow", "s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*")),
        "allowed",
        ("Home",),
    ),
    "variable-username-other-prefix": Case(
        get(resource="arn:aws:s3:::b/home/bob/notes"),
        ident(stmt("Home", "Allow", "s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "variable-literal-under-2008": Case(
        get(resource="arn:aws:s3:::b/home/alice/notes"),
        ident(stmt("Home", "Allow", "s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*"), version=None),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "variable-star-is-literal": Case(
        get(resource="arn:aws:s3:::b/x"),
        ident(stmt("Lit", "Allow", "s3:GetObject", "arn:aws:s3:::b/${*}")),
        "implicitDeny",
        (),
        "identity-based",
    ),
    "variable-star-matches-star": Case(
        get(resource="arn:aws:s3:::b/*"),
        ident(stmt("Lit", "Allow", "s3:GetObject", "arn:aws:s3:::b/${*}")),
        "allowed",
        ("Lit",),
    ),
    "variable-principal-account-in-condition": Case(
        ctx_keys(s3__ResourceAccount=ACCOUNT),
        {
            "identity_policies": [
                cond_allow({"StringEquals": {"s3:ResourceAccount": "${aws:PrincipalAccount}"}})
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "variable-missing-key-is-reported": Case(
        get(principal=SESSION, resource="arn:aws:s3:::b/home/x"),
        ident(stmt("Home", "Allow", "s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*")),
        "implicitDeny",
        (),
        "identity-based",
        ("aws:username",),
    ),
    # --- conditions: missing keys, negation, IfExists, Null ---
    "stringnotequals-sourcevpce-denies-non-endpoint": Case(
        get(),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt(
                    "VpceOnly",
                    "Deny",
                    "s3:*",
                    [BUCKET, f"{BUCKET}/*"],
                    principal="*",
                    condition={"StringNotEquals": {"aws:SourceVpce": VPCE}},
                ),
                kind=R,
            ),
        },
        "explicitDeny",
        ("VpceOnly",),
        "resource-based",
        ("aws:SourceVpce",),
    ),
    "stringnotequals-sourcevpce-allows-endpoint": Case(
        ctx_keys(aws__sourceVpce=VPCE),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt(
                    "VpceOnly",
                    "Deny",
                    "s3:*",
                    [BUCKET, f"{BUCKET}/*"],
                    principal="*",
                    condition={"StringNotEquals": {"AWS:SOURCEVPCE": VPCE}},
                ),
                kind=R,
            ),
        },
        "allowed",
        ("AllowS3",),
        missing=(),
    ),
    "ipaddress-fails-when-sourceip-absent": Case(
        ctx_keys(aws__SourceVpce=VPCE),
        {"identity_policies": [cond_allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})]},
        "implicitDeny",
        (),
        "identity-based",
        ("aws:SourceIp",),
    ),
    "ipaddress-cidr-match": Case(
        ctx_keys(aws__SourceIp="203.0.113.9"),
        {"identity_policies": [cond_allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})]},
        "allowed",
        ("Cond",),
    ),
    "notipaddress-deny-outside-range": Case(
        ctx_keys(aws__SourceIp="198.51.100.7"),
        ident(
            ALLOW_S3,
            stmt("OfficeOnly", "Deny", "*", condition={"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}),
        ),
        "explicitDeny",
        ("OfficeOnly",),
        "identity-based",
    ),
    "ipv6-cidr-match": Case(
        ctx_keys(aws__SourceIp="2001:db8:1234:5678::1"),
        {"identity_policies": [cond_allow({"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}})]},
        "allowed",
        ("Cond",),
    ),
    "ipv4-request-against-ipv6-range": Case(
        ctx_keys(aws__SourceIp="203.0.113.9"),
        {"identity_policies": [cond_allow({"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}})]},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "bare-ip-is-slash-32": Case(
        ctx_keys(aws__SourceIp="203.0.113.10"),
        {"identity_policies": [cond_allow({"IpAddress": {"aws:SourceIp": "203.0.113.9"}})]},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "ifexists-missing-key-passes": Case(
        get(action="ec2:RunInstances", resource="*"),
        {
            "identity_policies": [
                cond_allow({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, "ec2:*")
            ]
        },
        "allowed",
        ("Cond",),
        missing=("ec2:InstanceType",),
    ),
    "ifexists-present-key-must-match": Case(
        ctx_keys("ec2:RunInstances", "*", ec2__InstanceType="m5.large"),
        {
            "identity_policies": [
                cond_allow({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, "ec2:*")
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
    ),
    "null-true-denies-without-mfa": Case(
        get(),
        ident(ALLOW_S3, stmt("NeedMfa", "Deny", "*", condition={"Null": {"aws:MultiFactorAuthAge": "true"}})),
        "explicitDeny",
        ("NeedMfa",),
        "identity-based",
        (),
    ),
    "null-true-spares-mfa-request": Case(
        ctx_keys(aws__MultiFactorAuthAge="300"),
        ident(ALLOW_S3, stmt("NeedMfa", "Deny", "*", condition={"Null": {"aws:MultiFactorAuthAge": True}})),
        "allowed",
        ("AllowS3",),
    ),
    # --- set operators ---
    "foranyvalue-missing-key-is-false": Case(
        get(action="ec2:CreateTags", resource="*"),
        {
            "identity_policies": [
                cond_allow({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
        ("aws:TagKeys",),
    ),
    "foranyvalue-empty-key-is-false": Case(
        ctx_keys("ec2:CreateTags", "*", aws__TagKeys=[]),
        {
            "identity_policies": [
                cond_allow({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
        (),
    ),
    "foranyvalue-one-match": Case(
        ctx_keys("ec2:CreateTags", "*", aws__TagKeys=["owner", "env"]),
        {
            "identity_policies": [
                cond_allow({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "forallvalues-missing-key-is-true": Case(
        get(action="ec2:CreateTags", resource="*"),
        {
            "identity_policies": [
                cond_allow({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "forallvalues-empty-key-is-true": Case(
        ctx_keys("ec2:CreateTags", "*", aws__TagKeys=[]),
        {
            "identity_policies": [
                cond_allow({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "forallvalues-one-outside-fails": Case(
        ctx_keys("ec2:CreateTags", "*", aws__TagKeys=["team", "owner"]),
        {
            "identity_policies": [
                cond_allow({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}, "ec2:CreateTags")
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
    ),
    "forallvalues-negated-none-listed": Case(
        ctx_keys("ec2:CreateTags", "*", aws__TagKeys=["team", "owner"]),
        {
            "identity_policies": [
                cond_allow({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}, "ec2:CreateTags")
            ]
        },
        "allowed",
        ("Cond",),
    ),
    # --- ARN vs string operators ---
    "stringlike-star-spans-colons": Case(
        get(principal=SESSION),
        {"identity_policies": [cond_allow({"StringLike": {"aws:PrincipalArn": f"arn:*:{ACCOUNT}:*"}})]},
        "allowed",
        ("Cond",),
    ),
    "arnlike-matches-per-segment": Case(
        get(principal=SESSION),
        {"identity_policies": [cond_allow({"ArnLike": {"aws:PrincipalArn": f"arn:*:{ACCOUNT}:*"}})]},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "arnlike-wildcard-account-segment": Case(
        get(principal=SESSION),
        {"identity_policies": [cond_allow({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Train*"}})]},
        "allowed",
        ("Cond",),
    ),
    "arnnotequals-missing-key-is-true": Case(
        get(),
        {"identity_policies": [cond_allow({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}})]},
        "allowed",
        ("Cond",),
        missing=("aws:SourceArn",),
    ),
    # --- other operators ---
    "string-equals-ignore-case": Case(
        RequestContext("s3:GetObject", KEY, ALICE, {"aws:PrincipalTag/team": "ML-Platform"}),
        {
            "identity_policies": [
                cond_allow({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ml-platform"}})
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "string-equals-is-case-sensitive": Case(
        RequestContext("s3:GetObject", KEY, ALICE, {"aws:PrincipalTag/team": "ML-Platform"}),
        {"identity_policies": [cond_allow({"StringEquals": {"aws:PrincipalTag/team": "ml-platform"}})]},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "stringnotlike-multiple-values-must-match-none": Case(
        ctx_keys("s3:ListBucket", BUCKET, s3__prefix="home/bob/"),
        ident(
            stmt("List", "Allow", "s3:ListBucket", BUCKET),
            stmt(
                "OwnHome",
                "Deny",
                "s3:ListBucket",
                BUCKET,
                condition={"StringNotLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
            ),
        ),
        "explicitDeny",
        ("OwnHome",),
        "identity-based",
    ),
    "stringnotlike-own-home-allowed": Case(
        ctx_keys("s3:ListBucket", BUCKET, s3__prefix="home/alice/docs"),
        ident(
            stmt("List", "Allow", "s3:ListBucket", BUCKET),
            stmt(
                "OwnHome",
                "Deny",
                "s3:ListBucket",
                BUCKET,
                condition={"StringNotLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
            ),
        ),
        "allowed",
        ("List",),
    ),
    "date-less-than-iso": Case(
        ctx_keys(aws__CurrentTime="2025-06-01T12:00:00Z"),
        {"identity_policies": [cond_allow({"DateLessThan": {"aws:CurrentTime": "2025-12-31T23:59:59Z"}})]},
        "allowed",
        ("Cond",),
    ),
    "date-greater-than-epoch-policy-value": Case(
        ctx_keys(aws__CurrentTime="2025-06-01T12:00:00Z"),
        {"identity_policies": [cond_allow({"DateGreaterThan": {"aws:CurrentTime": 1767225600}})]},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "date-epoch-request-value": Case(
        ctx_keys(aws__EpochTime="1700000000"),
        {
            "identity_policies": [
                cond_allow({"DateGreaterThanEquals": {"aws:EpochTime": "2023-11-14T22:13:20Z"}})
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "numeric-less-than": Case(
        ctx_keys("s3:ListBucket", BUCKET, s3__max_keys="5"),
        {
            "identity_policies": [
                cond_allow({"NumericLessThanEquals": {"s3:max_keys": "10"}}, "s3:ListBucket")
            ]
        },
        "allowed",
        ("Cond",),
    ),
    "numeric-greater-fails": Case(
        ctx_keys("s3:ListBucket", BUCKET, s3__max_keys="50"),
        {
            "identity_policies": [
                cond_allow({"NumericLessThanEquals": {"s3:max_keys": "10"}}, "s3:ListBucket")
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
    ),
    "bool-secure-transport-deny": Case(
        ctx_keys(aws__SecureTransport="false"),
        ident(ALLOW_S3, stmt("TlsOnly", "Deny", "s3:*", condition={"Bool": {"aws:SecureTransport": False}})),
        "explicitDeny",
        ("TlsOnly",),
        "identity-based",
    ),
    "binary-equals-base64": Case(
        ctx_keys(app__token="QmluYXJ5VmFsdWU="),
        {"identity_policies": [cond_allow({"BinaryEquals": {"app:token": "QmluYXJ5VmFsdWU="}})]},
        "allowed",
        ("Cond",),
    ),
    "operators-and-keys-are-anded": Case(
        ctx_keys(aws__SourceIp="203.0.113.9", aws__SecureTransport="false"),
        {
            "identity_policies": [
                cond_allow(
                    {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "Bool": {"aws:SecureTransport": "true"}}
                )
            ]
        },
        "implicitDeny",
        (),
        "identity-based",
    ),
    "values-are-ored": Case(
        ctx_keys(aws__SourceVpc="vpc-222"),
        {"identity_policies": [cond_allow({"StringEquals": {"aws:SourceVpc": ["vpc-111", "vpc-222"]}})]},
        "allowed",
        ("Cond",),
    ),
    # --- same account vs cross account ---
    "same-account-bucket-policy-alone-grants": Case(
        get(),
        {"resource_policy": policy(stmt("ToAlice", "Allow", "s3:GetObject", KEY, principal=ALICE_P), kind=R)},
        "allowed",
        ("ToAlice",),
        resource_account=ACCOUNT,
    ),
    "same-account-account-principal-delegates": Case(
        get(),
        {
            "resource_policy": policy(
                stmt("ToAcct", "Allow", "s3:GetObject", KEY, principal={"AWS": ACCOUNT}), kind=R
            )
        },
        "implicitDeny",
        (),
        "identity-based",
        resource_account=ACCOUNT,
    ),
    "cross-account-needs-identity-allow": Case(
        get(principal=BOB),
        {
            "resource_policy": policy(
                stmt("ToBob", "Allow", "s3:GetObject", KEY, principal={"AWS": BOB.arn}), kind=R
            )
        },
        "implicitDeny",
        (),
        "identity-based",
        resource_account=ACCOUNT,
    ),
    "cross-account-needs-resource-allow": Case(
        get(principal=BOB),
        ident(ALLOW_S3),
        "implicitDeny",
        (),
        "resource-based",
        resource_account=ACCOUNT,
    ),
    "cross-account-both-allow": Case(
        get(principal=BOB),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt(
                    "ToOther",
                    "Allow",
                    "s3:GetObject",
                    KEY,
                    principal={"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                ),
                kind=R,
            ),
        },
        "allowed",
        ("AllowS3", "ToOther"),
        resource_account=ACCOUNT,
    ),
    # --- VPC endpoint policy gate ---
    "endpoint-policy-implicit-deny": Case(
        ctx_keys(aws__SourceVpce=VPCE),
        {
            **ident(ALLOW_S3),
            "endpoint_policy": policy(
                stmt("OtherBucket", "Allow", "s3:GetObject", "arn:aws:s3:::b2/*", principal="*"), kind=E
            ),
        },
        "implicitDeny",
        (),
        "VPC endpoint",
    ),
    "endpoint-policy-explicit-deny": Case(
        ctx_keys(aws__SourceVpce=VPCE),
        {
            **ident(ALLOW_S3),
            "endpoint_policy": policy(
                stmt(None, "Allow", "*", principal="*"),
                stmt("NoRepoBucket", "Deny", "s3:*", "arn:aws:s3:::b/*", principal="*"),
                kind=E,
            ),
        },
        "explicitDeny",
        ("NoRepoBucket",),
        "VPC endpoint",
    ),
    "endpoint-default-policy-does-not-grant": Case(
        ctx_keys(aws__SourceVpce=VPCE),
        {"endpoint_policy": DEFAULT_ENDPOINT},
        "implicitDeny",
        (),
        "identity-based",
    ),
    "endpoint-default-policy-with-identity-allow": Case(
        ctx_keys(aws__SourceVpce=VPCE),
        {**ident(ALLOW_S3), "endpoint_policy": DEFAULT_ENDPOINT},
        "allowed",
        ("AllowS3",),
    ),
    "endpoint-principal-account-condition": Case(
        get(principal=BOB),
        {
            **ident(ALLOW_S3),
            "endpoint_policy": policy(
                stmt(
                    "OwnOrg",
                    "Allow",
                    "*",
                    principal="*",
                    condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
                ),
                kind=E,
            ),
        },
        "implicitDeny",
        (),
        "VPC endpoint",
    ),
    # --- boundaries and session policies ---
    "boundary-limits-identity": Case(
        get(action="s3:PutObject"),
        {**ident(ALLOW_S3), "permissions_boundary": policy(stmt("ReadOnly", "Allow", "s3:Get*"))},
        "implicitDeny",
        (),
        "permissions boundary",
    ),
    "boundary-intersection-allows": Case(
        get(),
        {**ident(ALLOW_S3), "permissions_boundary": policy(stmt("ReadOnly", "Allow", "s3:Get*"))},
        "allowed",
        ("AllowS3", "ReadOnly"),
    ),
    "boundary-deny-is-explicit": Case(
        get(),
        {**ident(ALLOW_S3), "permissions_boundary": policy(ALLOW_ALL, stmt("NoS3", "Deny", "s3:*"))},
        "explicitDeny",
        ("NoS3",),
        "permissions boundary",
    ),
    "session-policy-limits-role": Case(
        get(principal=SESSION, action="s3:PutObject"),
        {**ident(ALLOW_S3), "session_policies": [policy(stmt("SessGet", "Allow", "s3:GetObject"))]},
        "implicitDeny",
        (),
        "session",
    ),
    "session-policy-intersection-allows": Case(
        get(principal=SESSION),
        {**ident(ALLOW_S3), "session_policies": [policy(stmt("SessGet", "Allow", "s3:GetObject"))]},
        "allowed",
        ("AllowS3", "SessGet"),
    ),
    "resource-policy-naming-session-bypasses-boundary": Case(
        get(principal=SESSION),
        {
            "resource_policy": policy(
                stmt("ToSession", "Allow", "s3:GetObject", KEY, principal={"AWS": SESSION_ARN}), kind=R
            ),
            "permissions_boundary": policy(stmt("Nothing", "Allow", "ec2:Describe*")),
        },
        "allowed",
        ("ToSession",),
        resource_account=ACCOUNT,
    ),
    "resource-policy-naming-role-limited-by-boundary": Case(
        get(principal=SESSION),
        {
            "resource_policy": policy(
                stmt(
                    "ToRole",
                    "Allow",
                    "s3:GetObject",
                    KEY,
                    principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Trainer"},
                ),
                kind=R,
            ),
            "permissions_boundary": policy(stmt("Nothing", "Allow", "ec2:Describe*")),
        },
        "implicitDeny",
        (),
        "permissions boundary",
        resource_account=ACCOUNT,
    ),
    # --- root, anonymous, NotPrincipal ---
    "root-allowed-in-own-account": Case(
        get(principal=Principal.root(ACCOUNT)), {}, "allowed", (), resource_account=ACCOUNT
    ),
    "root-subject-to-bucket-deny": Case(
        get(principal=Principal.root(ACCOUNT)),
        {"resource_policy": policy(stmt("NoOne", "Deny", "s3:GetObject", KEY, principal="*"), kind=R)},
        "explicitDeny",
        ("NoOne",),
        "resource-based",
        resource_account=ACCOUNT,
    ),
    "root-of-other-account-needs-bucket-allow": Case(
        get(principal=Principal.root(OTHER_ACCOUNT)),
        {},
        "implicitDeny",
        (),
        "resource-based",
        resource_account=ACCOUNT,
    ),
    "anonymous-public-bucket": Case(
        get(principal=Principal.anonymous()),
        {
            "resource_policy": policy(
                stmt("Public", "Allow", "s3:GetObject", f"{BUCKET}/*", principal="*"), kind=R
            )
        },
        "allowed",
        ("Public",),
        resource_account=ACCOUNT,
    ),
    "anonymous-private-bucket": Case(
        get(principal=Principal.anonymous()),
        {"resource_policy": policy(stmt("ToAlice", "Allow", "s3:GetObject", KEY, principal=ALICE_P), kind=R)},
        "implicitDeny",
        (),
        "resource-based",
        resource_account=ACCOUNT,
    ),
    "notprincipal-deny-spares-listed-user": Case(
        get(),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt(
                    "OnlyAlice",
                    "Deny",
                    "s3:*",
                    KEY,
                    not_principal={"AWS": [ALICE.arn, f"arn:aws:iam::{ACCOUNT}:root"]},
                ),
                kind=R,
            ),
        },
        "allowed",
        ("AllowS3",),
        resource_account=ACCOUNT,
    ),
    "notprincipal-deny-hits-others": Case(
        get(principal=Principal.user(f"arn:aws:iam::{ACCOUNT}:user/carol")),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt(
                    "OnlyAlice",
                    "Deny",
                    "s3:*",
                    KEY,
                    not_principal={"AWS": [ALICE.arn, f"arn:aws:iam::{ACCOUNT}:root"]},
                ),
                kind=R,
            ),
        },
        "explicitDeny",
        ("OnlyAlice",),
        "resource-based",
        resource_account=ACCOUNT,
    ),
    "notprincipal-without-account-denies-user-too": Case(
        get(),
        {
            **ident(ALLOW_S3),
            "resource_policy": policy(
                stmt("OnlyAlice", "Deny", "s3:*", KEY, not_principal={"AWS": [ALICE.arn]}), kind=R
            ),
        },
        "explicitDeny",
        ("OnlyAlice",),
        "resource-based",
        resource_account=ACCOUNT,
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_documented_evaluation(case: Case) -> None:
    decision = evaluate(case.ctx, resource_account=case.resource_account, **case.policies)
    assert decision.result == case.result
    assert decision.allowed is (case.result == "allowed")
    sids = tuple(s.sid for s in decision.matched_statements if s.sid)
    if case.result == "implicitDeny":
        assert decision.matched_statements == ()
    else:
        assert sids == case.sids
    assert decision.denied_by == case.denied_by
    if case.missing is not None:
        assert decision.missing_context_keys == case.missing


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
