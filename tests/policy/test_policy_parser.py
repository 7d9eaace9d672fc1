"""Parsing and IAM-style validation of policy documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policy_builders import stmt

from cove.policy import Effect, PolicyError, PolicyKind, parse_policy

ID = PolicyKind.IDENTITY
R = PolicyKind.RESOURCE
T = PolicyKind.TRUST


def doc(*statements: Any, **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", **top, "Statement": list(statements)}


def test_statement_object_and_string_fields() -> None:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "bucket-policy",
            "Statement": {"Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        }
    )
    policy = parse_policy(text, kind=ID, name="inline")
    assert policy.id == "bucket-policy"
    assert policy.name == "inline"
    assert policy.label == "inline"
    assert policy.variables_enabled
    (statement,) = policy.statements
    assert statement.sid == "One"
    assert statement.index == 0
    assert statement.effect is Effect.ALLOW
    assert statement.actions == ("s3:GetObject",)
    assert statement.resources == ("*",)


def test_missing_version_means_2008_without_variables() -> None:
    policy = parse_policy({"Statement": [stmt(None, "Allow", "s3:*")]}, kind=ID)
    assert policy.version == "2008-10-17"
    assert not policy.variables_enabled


def test_condition_values_are_normalised() -> None:
    policy = parse_policy(
        doc(stmt(None, "Allow", "s3:*", condition={"ForAnyValue:StringLikeIfExists": {"k": [1, True, "x"]}})),
        kind=ID,
    )
    (clause,) = policy.statements[0].conditions
    assert (clause.base, clause.qualifier, clause.if_exists) == ("StringLike", "ForAnyValue", True)
    assert clause.values == ("1", "true", "x")


def test_principal_star_is_aws_star() -> None:
    policy = parse_policy(doc(stmt(None, "Allow", "s3:*", principal="*")), kind=R)
    principal = policy.statements[0].principal
    assert principal is not None
    assert principal.values("AWS") == ("*",)


def test_trust_policy_needs_no_resource() -> None:
    trust = doc(
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    policy = parse_policy(trust, kind=T)
    assert policy.statements[0].resources is None


MALFORMED: dict[str, tuple[Any, PolicyKind, str]] = {
    "invalid-json": ('{"Version": "2012-10-17", "Statement": [', ID, "Syntax errors in policy."),
    "not-an-object": ("[1, 2]", ID, "Syntax errors in policy."),
    "unknown-top-level": (doc(stmt(None, "Allow", "s3:*"), Extra=1), ID, "Syntax errors in policy."),
    "bad-version": ({"Version": "2012-10-18", "Statement": []}, ID, "The policy failed legacy parsing"),
    "no-statement": ({"Version": "2012-10-17"}, ID, "Missing required field Statement"),
    "identity-with-principal": (
        doc(stmt(None, "Allow", "s3:*", principal="*")),
        ID,
        "Policy document should not specify a principal.",
    ),
    "boundary-with-notprincipal": (
        doc(stmt(None, "Deny", "s3:*", not_principal="*")),
        PolicyKind.BOUNDARY,
        "Policy document should not specify a principal.",
    ),
    "resource-without-principal": (doc(stmt(None, "Allow", "s3:*")), R, "Missing required field Principal"),
    "trust-without-principal": (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        T,
        "Missing required field Principal",
    ),
    "endpoint-without-principal": (
        doc(stmt(None, "Allow", "*")),
        PolicyKind.ENDPOINT,
        "Missing required field Principal",
    ),
    "trust-with-resource": (
        doc(stmt(None, "Allow", "sts:AssumeRole", principal="*")),
        T,
        "Has prohibited field Resource",
    ),
    "no-actions": (doc({"Effect": "Allow", "Resource": "*"}), ID, "Policy statement must contain actions."),
    "empty-action-list": (doc(stmt(None, "Allow", [])), ID, "Policy statement must contain actions."),
    "no-resources": (
        doc({"Effect": "Allow", "Action": "s3:*"}),
        ID,
        "Policy statement must contain resources.",
    ),
    "no-effect": (doc({"Action": "s3:*", "Resource": "*"}), ID, "Missing required field Effect"),
    "unknown-effect": (doc(stmt(None, "Permit", "s3:*")), ID, "Invalid effect: Permit"),
    "action-and-notaction": (
        doc(stmt(None, "Allow", "s3:*", not_action="iam:*")),
        ID,
        "both Action and NotAction",
    ),
    "resource-and-notresource": (
        doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "*"}),
        ID,
        "both Resource and NotResource",
    ),
    "action-without-vendor": (doc(stmt(None, "Allow", "GetObject")), ID, "must be prefaced by a vendor"),
    "resource-not-arn": (doc(stmt(None, "Allow", "s3:*", "vpce-123")), ID, "must be in ARN format"),
    "unknown-operator": (
        doc(stmt(None, "Allow", "s3:*", condition={"StringEqualz": {"a:b": "c"}})),
        ID,
        "Invalid Condition type : StringEqualz",
    ),
    "null-if-exists": (
        doc(stmt(None, "Allow", "s3:*", condition={"NullIfExists": {"a:b": "true"}})),
        ID,
        "Invalid Condition type : NullIfExists",
    ),
    "unknown-set-qualifier": (
        doc(stmt(None, "Allow", "s3:*", condition={"ForSomeValues:StringEquals": {"a:b": "c"}})),
        ID,
        "Invalid Condition type",
    ),
    "condition-value-object": (
        doc(stmt(None, "Allow", "s3:*", condition={"StringEquals": {"a:b": {"x": 1}}})),
        ID,
        "Syntax errors in policy.",
    ),
    "bad-aws-principal": (
        doc(stmt(None, "Allow", "s3:*", principal={"AWS": "alice"})),
        R,
        'Invalid principal in policy: "AWS": "alice"',
    ),
    "partial-wildcard-principal": (
        doc(stmt(None, "Allow", "s3:*", principal={"AWS": "arn:aws:iam::*:root"})),
        R,
        "Invalid principal in policy",
    ),
    "unknown-principal-type": (
        doc(stmt(None, "Allow", "s3:*", principal={"Group": "x"})),
        R,
        "Invalid principal in policy",
    ),
    "notprincipal-in-trust": (
        doc({"Effect": "Deny", "NotPrincipal": "*", "Action": "sts:AssumeRole"}),
        T,
        "Has prohibited field NotPrincipal",
    ),
    "duplicate-sids": (
        doc(stmt("A", "Allow", "s3:*"), stmt("A", "Deny", "iam:*")),
        ID,
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    "non-alphanumeric-sid": (
        doc(stmt("my sid", "Allow", "s3:*")),
        ID,
        "Statement IDs (SID) must be alpha-numeric",
    ),
    "unknown-statement-field": (
        doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Actions": "x"}),
        ID,
        "Syntax errors in policy.",
    ),
}


@pytest.mark.parametrize(("document", "kind", "message"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_documents(document: Any, kind: PolicyKind, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document, kind=kind)
    assert message in str(caught.value)


def test_error_names_statement_index_and_sid() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(
            doc(stmt("Ok", "Allow", "s3:*"), {"Sid": "Broken", "Effect": "Allow", "Resource": "*"}), kind=ID
        )
    error = caught.value
    assert error.reason == "Policy statement must contain actions."
    assert error.statement_index == 1
    assert error.sid == "Broken"
    assert str(error) == 'Policy statement must contain actions. (statement 1, Sid "Broken")'


def test_invalid_json_error_says_where() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy('{"Statement": [}', kind=ID)
    assert str(caught.value).startswith("Syntax errors in policy.")
    assert "line 1 column" in str(caught.value)


def test_resource_policy_sid_may_contain_spaces() -> None:
    policy = parse_policy(doc(stmt("Allow read for all", "Allow", "s3:GetObject", principal="*")), kind=R)
    assert policy.statements[0].sid == "Allow read for all"


def test_endpoint_policy_size_limit() -> None:
    big = json.dumps(doc(stmt("S" + "x" * 20500, "Allow", "*", principal="*")))
    with pytest.raises(PolicyError, match="20480"):
        parse_policy(big, kind=PolicyKind.ENDPOINT)
