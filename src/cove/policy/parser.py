"""Parse and validate a policy document the way IAM does, with IAM's MalformedPolicyDocument wording."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from cove.policy.conditions import split_operator
from cove.policy.document import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    Effect,
    Policy,
    PolicyKind,
    PrincipalBlock,
    Statement,
)
from cove.policy.errors import PolicyError

__all__ = ["parse_policy"]

SYNTAX = "Syntax errors in policy."
_TOP_LEVEL = {"Version", "Id", "Statement"}
_STATEMENT_FIELDS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_IDENTITY_LIKE = {PolicyKind.IDENTITY, PolicyKind.SESSION, PolicyKind.BOUNDARY}
_SID = re.compile(r"[0-9A-Za-z]*")
_ACCOUNT = re.compile(r"\d{12}")
# The ARNs an "AWS" principal may name; IAM forbids partial wildcards in them.
_AWS_PRINCIPAL_ARN = re.compile(
    r"arn:[a-z-]+:(iam::\d{12}:(root|user/.+|role/.+)|sts::\d{12}:(assumed-role/.+|federated-user/.+))"
)
_ENDPOINT_POLICY_LIMIT = 20480

_Fail = Callable[[str], PolicyError]


def parse_policy(document: str | Mapping[str, Any], *, kind: PolicyKind, name: str | None = None) -> Policy:
    """Parse a JSON policy (text or already-decoded) for the place ``kind`` says it is attached.

    Raises :class:`PolicyError` with IAM's MalformedPolicyDocument-style message.
    """
    if isinstance(document, str):
        if kind is PolicyKind.ENDPOINT and len(document) > _ENDPOINT_POLICY_LIMIT:
            raise PolicyError(f"Policy document exceeds the {_ENDPOINT_POLICY_LIMIT} character limit.")
        try:
            decoded: object = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyError(
                f"{SYNTAX} The policy is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
            ) from None
    else:
        decoded = document
    if not isinstance(decoded, Mapping):
        raise PolicyError(f"{SYNTAX} The policy document must be a JSON object.")
    unknown = sorted(str(key) for key in decoded if key not in _TOP_LEVEL)
    if unknown:
        raise PolicyError(f"{SYNTAX} Unknown top-level field {unknown[0]}; expected Version, Id, Statement.")
    version = _version(decoded.get("Version"))
    policy_id = decoded.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError(f"{SYNTAX} Id must be a string.")
    if "Statement" not in decoded:
        raise PolicyError("Missing required field Statement")
    raw = decoded["Statement"]
    raw_statements = raw if isinstance(raw, list) else [raw]
    statements = tuple(_statement(item, index, kind) for index, item in enumerate(raw_statements))
    sids = [statement.sid for statement in statements if statement.sid]
    if len(sids) != len(set(sids)):
        raise PolicyError("Statement IDs (SID) in a single policy must be unique.")
    return Policy(kind=kind, version=version, statements=statements, id=policy_id, name=name)


def _version(value: object) -> str:
    if value is None:
        return VERSION_2008
    if value not in (VERSION_2012, VERSION_2008):
        raise PolicyError(
            f"The policy failed legacy parsing: Version {json.dumps(value)} is not valid; "
            f'use "{VERSION_2012}" (or "{VERSION_2008}").'
        )
    return str(value)


def _statement(raw: object, index: int, kind: PolicyKind) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{SYNTAX} Each statement must be a JSON object.", statement_index=index)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{SYNTAX} Sid must be a string.", statement_index=index)

    def fail(reason: str) -> PolicyError:
        return PolicyError(reason, statement_index=index, sid=sid)

    unknown = sorted(str(key) for key in raw if key not in _STATEMENT_FIELDS)
    if unknown:
        raise fail(f"{SYNTAX} Unknown field {unknown[0]} in statement.")
    if kind in _IDENTITY_LIKE and sid and not _SID.fullmatch(sid):
        raise fail(
            "Statement IDs (SID) must be alpha-numeric. "
            "Check that your input satisfies the regular expression [0-9A-Za-z]*"
        )
    if "Effect" not in raw:
        raise fail("Missing required field Effect")
    effect_text = raw["Effect"]
    if effect_text not in (Effect.ALLOW.value, Effect.DENY.value):
        raise fail(f"Invalid effect: {effect_text}. Effect must be Allow or Deny.")
    effect = Effect(effect_text)

    if "Action" in raw and "NotAction" in raw:
        raise fail(f"{SYNTAX} A statement cannot contain both Action and NotAction.")
    actions = _strings(raw, "Action", fail)
    not_actions = _strings(raw, "NotAction", fail)
    if not (actions or not_actions):
        raise fail("Policy statement must contain actions.")
    for action in actions or not_actions or ():
        if action != "*" and (":" not in action or not action.split(":", 1)[0]):
            raise fail(
                f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ({action})"
            )

    if "Resource" in raw and "NotResource" in raw:
        raise fail(f"{SYNTAX} A statement cannot contain both Resource and NotResource.")
    resources = _strings(raw, "Resource", fail)
    not_resources = _strings(raw, "NotResource", fail)
    if kind is PolicyKind.TRUST:
        for field in ("Resource", "NotResource"):
            if field in raw:
                raise fail(f"Has prohibited field {field}")
    elif not (resources or not_resources):
        raise fail("Policy statement must contain resources.")
    for resource in resources or not_resources or ():
        if resource != "*" and not resource.startswith("arn:"):
            raise fail(f'Resource {resource} must be in ARN format or "*".')

    if "Principal" in raw and "NotPrincipal" in raw:
        raise fail(f"{SYNTAX} A statement cannot contain both Principal and NotPrincipal.")
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if kind in _IDENTITY_LIKE and has_principal:
        raise fail("Policy document should not specify a principal.")
    if kind is PolicyKind.TRUST and "NotPrincipal" in raw:
        raise fail("Has prohibited field NotPrincipal")
    if kind not in _IDENTITY_LIKE and not has_principal:
        raise fail("Missing required field Principal")
    principal = _principal(raw["Principal"], fail) if "Principal" in raw else None
    not_principal = _principal(raw["NotPrincipal"], fail) if "NotPrincipal" in raw else None

    conditions = _conditions(raw.get("Condition"), fail) if "Condition" in raw else ()
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principal=principal,
        not_principal=not_principal,
        conditions=conditions,
    )


def _strings(raw: Mapping[str, Any], field: str, fail: _Fail) -> tuple[str, ...] | None:
    if field not in raw:
        return None
    value = raw[field]
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item for item in items):
        raise fail(f"{SYNTAX} {field} must be a non-empty string or a list of non-empty strings.")
    return tuple(items)


def _principal(raw: object, fail: _Fail) -> PrincipalBlock:
    if raw == "*":
        return PrincipalBlock((("AWS", ("*",)),))
    if not isinstance(raw, Mapping) or not raw:
        raise fail(f"Invalid principal in policy: {json.dumps(raw)}")
    entries: list[tuple[str, tuple[str, ...]]] = []
    for principal_type, value in raw.items():
        if principal_type not in _PRINCIPAL_TYPES:
            raise fail(f"Invalid principal in policy: {json.dumps({principal_type: value})[1:-1]}")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str) or not item or not _valid_principal(principal_type, item):
                raise fail(f"Invalid principal in policy: {json.dumps({principal_type: item})[1:-1]}")
        entries.append((principal_type, tuple(items)))
    return PrincipalBlock(tuple(entries))


def _valid_principal(principal_type: str, value: str) -> bool:
    if principal_type != "AWS":
        return True
    return value == "*" or bool(_ACCOUNT.fullmatch(value) or _AWS_PRINCIPAL_ARN.fullmatch(value))


def _conditions(raw: object, fail: _Fail) -> tuple[ConditionClause, ...]:
    if not isinstance(raw, Mapping):
        raise fail(f"{SYNTAX} Condition must be an object of operator → {{key: values}}.")
    clauses: list[ConditionClause] = []
    for operator, block in raw.items():
        parsed = split_operator(str(operator))
        if parsed is None:
            raise fail(f"Invalid Condition type : {operator}")
        base, qualifier, if_exists = parsed
        if not isinstance(block, Mapping) or not block:
            raise fail(f"{SYNTAX} Condition operator {operator} must map condition keys to values.")
        for key, value in block.items():
            if not isinstance(key, str) or not key:
                raise fail(f"{SYNTAX} Condition keys must be non-empty strings.")
            items = value if isinstance(value, list) else [value]
            values: list[str] = []
            for item in items:
                if isinstance(item, bool):
                    values.append("true" if item else "false")
                elif isinstance(item, str | int | float):
                    values.append(str(item))
                else:
                    raise fail(f"{SYNTAX} Condition value for {key} must be a string, number or boolean.")
            clauses.append(ConditionClause(str(operator), base, qualifier, if_exists, key, tuple(values)))
    return tuple(clauses)
