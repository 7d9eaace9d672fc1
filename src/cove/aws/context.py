"""Who is calling, from where, and for what: the context every provider receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Credential", "Principal", "RequestContext", "SourceContext"]

PrincipalKind = Literal["root", "user", "assumed-role", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, in the terms IAM policies and GetCallerIdentity use."""

    kind: PrincipalKind
    account_id: str
    arn: str
    user_id: str
    name: str = ""
    # For assumed-role sessions: the role's ARN (what trust and resource policies usually name).
    role_arn: str | None = None
    role_id: str | None = None
    session_name: str | None = None

    @property
    def policy_arn(self) -> str:
        """The ARN that ``aws:PrincipalArn`` carries: the role ARN for role sessions."""
        return self.role_arn or self.arn

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


@dataclass(frozen=True, slots=True)
class Credential:
    """A stored access key resolved for verification."""

    access_key_id: str
    secret_access_key: str
    principal: Principal
    active: bool = True
    # Temporary credentials only: the sha256 of the session token and when it stops working.
    session_token_sha256: str | None = None
    expires: datetime | None = None
    session_policy: str | None = None


@dataclass(frozen=True, slots=True)
class SourceContext:
    """Where the request came from, as known to the listener it arrived on (never from headers).

    The default listener on loopback is "the public internet": no VPC keys. Listeners inside VPC
    namespaces (the network layer) fill ``vpce_id``/``vpc_id``/``vpc_source_ip``.
    """

    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    vpce_id: str | None = None
    vpc_id: str | None = None
    vpc_source_ip: str | None = None

    def condition_keys(self) -> dict[str, str]:
        keys = {"aws:SecureTransport": "true" if self.secure_transport else "false"}
        if self.vpce_id:
            keys["aws:SourceVpce"] = self.vpce_id
            if self.vpc_id:
                keys["aws:SourceVpc"] = self.vpc_id
            if self.vpc_source_ip:
                keys["aws:VpcSourceIp"] = self.vpc_source_ip
        else:
            # AWS omits aws:SourceIp for requests that arrive through a VPC endpoint.
            keys["aws:SourceIp"] = self.source_ip
        return keys


@dataclass(slots=True)
class RequestContext:
    request_id: str
    region: str
    service: str
    operation: str
    principal: Principal
    source: SourceContext
    now: datetime
    credential: Credential | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.principal.account_id
