"""Who is asking for what: the principal and the request context a policy is evaluated against."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ContextKeys",
    "ContextValue",
    "Principal",
    "PrincipalType",
    "RequestContext",
]

ContextValue = str | Sequence[str]


class PrincipalType(enum.StrEnum):
    IAM_USER = "IAMUser"
    ROLE = "Role"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    ROOT = "Root"
    ANONYMOUS = "Anonymous"
    SERVICE = "Service"
    FEDERATED = "Federated"


# The values IAM puts in aws:PrincipalType.
_PRINCIPAL_TYPE_KEY = {
    PrincipalType.IAM_USER: "User",
    PrincipalType.ROLE: "AssumedRole",
    PrincipalType.ASSUMED_ROLE: "AssumedRole",
    PrincipalType.FEDERATED_USER: "FederatedUser",
    PrincipalType.ROOT: "Account",
    PrincipalType.ANONYMOUS: "Anonymous",
}


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None


def _arn_partition(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[1] if len(parts) == 6 and parts[1] else "aws"


@dataclass(frozen=True)
class Principal:
    """The caller. ``arn`` is the user, session, root or role ARN; for a service principal the
    service name (``sagemaker.amazonaws.com``); for a federated caller the provider."""

    type: PrincipalType
    arn: str | None = None
    account: str | None = None
    user_id: str | None = None
    role_arn: str | None = None

    @classmethod
    def user(cls, arn: str, *, user_id: str | None = None) -> Principal:
        return cls(PrincipalType.IAM_USER, arn, _arn_account(arn), user_id)

    @classmethod
    def role(cls, arn: str, *, user_id: str | None = None) -> Principal:
        return cls(PrincipalType.ROLE, arn, _arn_account(arn), user_id, arn)

    @classmethod
    def assumed_role(
        cls, session_arn: str, *, role_arn: str | None = None, user_id: str | None = None
    ) -> Principal:
        """``role_arn`` is needed only when the role has a path (session ARNs drop it)."""
        account = _arn_account(session_arn)
        if role_arn is None:
            resource = session_arn.split(":", 5)[-1]
            pieces = resource.split("/")
            if len(pieces) >= 2 and account:
                role_arn = f"arn:{_arn_partition(session_arn)}:iam::{account}:role/{pieces[1]}"
        return cls(PrincipalType.ASSUMED_ROLE, session_arn, account, user_id, role_arn)

    @classmethod
    def root(cls, account: str, *, partition: str = "aws") -> Principal:
        return cls(PrincipalType.ROOT, f"arn:{partition}:iam::{account}:root", account, account)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalType.ANONYMOUS, None, None, "anonymous")

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls(PrincipalType.SERVICE, name)

    @classmethod
    def federated(cls, provider: str) -> Principal:
        return cls(PrincipalType.FEDERATED, provider, _arn_account(provider))

    @classmethod
    def from_arn(cls, arn: str, *, user_id: str | None = None) -> Principal:
        """Infer the type from an IAM or STS ARN; anything else is taken as a service principal."""
        parts = arn.split(":", 5)
        if len(parts) != 6:
            return cls.service(arn)
        service, account, resource = parts[2], parts[4], parts[5]
        if service == "iam" and resource == "root":
            return cls.root(account, partition=parts[1])
        if service == "iam" and resource.startswith("user/"):
            return cls.user(arn, user_id=user_id)
        if service == "iam" and resource.startswith("role/"):
            return cls.role(arn, user_id=user_id)
        if service == "sts" and resource.startswith("assumed-role/"):
            return cls.assumed_role(arn, user_id=user_id)
        if service == "sts" and resource.startswith("federated-user/"):
            return cls(PrincipalType.FEDERATED_USER, arn, account, user_id)
        return cls.federated(arn)

    @property
    def username(self) -> str | None:
        """aws:username exists for IAM users only."""
        if self.type is PrincipalType.IAM_USER and self.arn:
            return self.arn.rsplit("/", 1)[-1]
        return None

    @property
    def principal_arn(self) -> str | None:
        """aws:PrincipalArn: the role ARN (not the session) for role sessions."""
        if self.type in (PrincipalType.ASSUMED_ROLE, PrincipalType.ROLE):
            return self.role_arn or self.arn
        if self.type in (PrincipalType.SERVICE, PrincipalType.FEDERATED, PrincipalType.ANONYMOUS):
            return None
        return self.arn

    def global_keys(self) -> dict[str, str]:
        """The global condition keys IAM derives from the caller (lower-cased names)."""
        keys: dict[str, str] = {}
        if self.principal_arn:
            keys["aws:principalarn"] = self.principal_arn
        if self.account and self.type not in (PrincipalType.SERVICE, PrincipalType.FEDERATED):
            keys["aws:principalaccount"] = self.account
        if self.type in _PRINCIPAL_TYPE_KEY:
            keys["aws:principaltype"] = _PRINCIPAL_TYPE_KEY[self.type]
        if self.type is PrincipalType.SERVICE and self.arn:
            keys["aws:principalservicename"] = self.arn
        if self.username:
            keys["aws:username"] = self.username
        if self.user_id:
            keys["aws:userid"] = self.user_id
        return keys


class ContextKeys(Mapping[str, tuple[str, ...]]):
    """Condition keys → values, looked up case-insensitively (IAM key names are case-insensitive).

    Every value is a tuple: single-valued keys hold one item, multivalued keys any number (an empty
    tuple is a present-but-empty multivalued key).
    """

    def __init__(self, values: Mapping[str, ContextValue] | None = None) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        for name, value in (values or {}).items():
            folded = name.lower()
            self._names[folded] = name
            self._values[folded] = (value,) if isinstance(value, str) else tuple(value)

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"ContextKeys({ {self._names[k]: v for k, v in self._values.items()}!r})"


@dataclass(frozen=True)
class RequestContext:
    """One authorization question: may ``principal`` perform ``action`` on ``resource``?

    ``keys`` holds the request's condition keys; the global keys derived from the principal
    (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:username, aws:userid) are added
    unless given explicitly.
    """

    action: str
    resource: str = "*"
    principal: Principal = field(default_factory=Principal.anonymous)
    keys: Mapping[str, ContextValue] = field(default_factory=dict)
    _keys: ContextKeys = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Later entries win inside ContextKeys, so explicit keys override the derived ones.
        merged: dict[str, ContextValue] = {**self.principal.global_keys(), **self.keys}
        object.__setattr__(self, "_keys", ContextKeys(merged))

    @property
    def context_keys(self) -> ContextKeys:
        return self._keys

    def values(self, key: str) -> tuple[str, ...] | None:
        """The key's values, or ``None`` when the request lacks it."""
        return self._keys.get(key)

    def single_value(self, key: str) -> str | None:
        """The value of a single-valued key (what a policy variable substitutes), else ``None``."""
        values = self._keys.get(key)
        if values is None or len(values) != 1:
            return None
        return values[0]

    @property
    def principal_arn(self) -> str | None:
        return self.single_value("aws:PrincipalArn")

    @property
    def principal_account(self) -> str | None:
        return self.single_value("aws:PrincipalAccount")

    @property
    def username(self) -> str | None:
        return self.single_value("aws:username")

    @property
    def userid(self) -> str | None:
        return self.single_value("aws:userid")
