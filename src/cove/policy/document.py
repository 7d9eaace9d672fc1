"""The parsed form of a policy document: policies, statements, principals and condition clauses."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "ConditionClause",
    "Effect",
    "Policy",
    "PolicyKind",
    "PrincipalBlock",
    "Statement",
]

VERSION_2012 = "2012-10-17"
# IAM's default when Version is absent; policy variables are literal text under it.
VERSION_2008 = "2008-10-17"


class PolicyKind(enum.StrEnum):
    """Where a policy is attached; decides which elements are required or forbidden."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    ENDPOINT = "endpoint"
    SESSION = "session"
    BOUNDARY = "boundary"


class Effect(enum.StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class PrincipalBlock:
    """A Principal or NotPrincipal element; ``"*"`` is stored as ``{"AWS": ("*",)}``."""

    entries: tuple[tuple[str, tuple[str, ...]], ...]

    def values(self, principal_type: str) -> tuple[str, ...]:
        for name, values in self.entries:
            if name == principal_type:
                return values
        return ()


@dataclass(frozen=True)
class ConditionClause:
    """One ``operator: {key: values}`` pair of a Condition block.

    ``operator`` is the spelling in the document; ``base`` the canonical operator without the set
    qualifier and the IfExists suffix (e.g. ``StringLike`` for ``ForAnyValue:StringLikeIfExists``).
    """

    operator: str
    base: str
    qualifier: str | None
    if_exists: bool
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalBlock | None
    not_principal: PrincipalBlock | None
    conditions: tuple[ConditionClause, ...]

    @property
    def label(self) -> str:
        return f'statement {self.index} (Sid "{self.sid}")' if self.sid else f"statement {self.index}"


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None
    name: str | None = None

    @property
    def variables_enabled(self) -> bool:
        return self.version == VERSION_2012

    @property
    def label(self) -> str:
        return self.name or self.id or f"{self.kind} policy"
