"""The container credentials endpoint (169.254.170.2) of every VPC router: the role bound to an ENI.

A job's ENI is bound to its execution role; the job gets
`AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.2/v2/credentials/<token>` and boto3 inside
finds temporary credentials of that role with no configuration, as in ECS and SageMaker. The
answer is given only to the ENI the token was issued for (the listener sees the peer address, which
the router's source check makes unforgeable); credentials are renewed before they expire.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cove.aws.asgi import Receive, Scope, Send
from cove.db import Database
from cove.keyring import RootKey
from cove.services.iam.roles import find_role_by_arn
from cove.services.sts.service import IssuedCredentials, issue_credentials

__all__ = ["CREDENTIALS_PATH", "Binding", "ContainerCredentials"]

CREDENTIALS_PATH = "/v2/credentials/"
_RENEW_BEFORE = timedelta(minutes=15)


@dataclass
class Binding:
    eni_id: str
    addresses: tuple[str, ...]
    role_arn: str
    session_name: str
    issued: IssuedCredentials | None = None


class NotBound(LookupError):
    pass


class ContainerCredentials:
    def __init__(self, db: Database, key: RootKey) -> None:
        self.db = db
        self.key = key
        self._bindings: dict[str, Binding] = {}
        self._lock = threading.Lock()

    def bind(self, eni_id: str, addresses: tuple[str, ...], role_arn: str, session_name: str) -> str:
        """Bind an ENI to a role; returns the token for its credentials URI. The role must exist."""
        with self.db.read() as session:
            if find_role_by_arn(session, role_arn) is None:
                raise NotBound(f"The role {role_arn} does not exist.")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._bindings[token] = Binding(eni_id, addresses, role_arn, session_name)
        return token

    def unbind(self, token: str) -> None:
        with self._lock:
            self._bindings.pop(token, None)

    def uri(self, token: str) -> str:
        return f"http://169.254.170.2{CREDENTIALS_PATH}{token}"

    def credentials(self, token: str, peer: str) -> dict[str, str]:
        """What the endpoint answers the ENI at `peer` that asks with `token`."""
        with self._lock:
            binding = self._bindings.get(token)
        if binding is None or peer not in binding.addresses:
            raise NotBound("no credentials for this caller")
        return self._current(binding)

    def issue(self, token: str) -> dict[str, str]:
        """The same answer, for Cove's own data agent of the bound ENI (handed to it at its start,
        so that it need not ask the endpoint first; it asks it when they are due for renewal)."""
        with self._lock:
            binding = self._bindings.get(token)
        if binding is None:
            raise NotBound("no credentials for this token")
        return self._current(binding)

    def _current(self, binding: Binding) -> dict[str, str]:
        now = datetime.now(UTC)
        issued = binding.issued
        if issued is None or issued.expiration - now < _RENEW_BEFORE:
            with self.db.session() as session:
                role = find_role_by_arn(session, binding.role_arn)
                if role is None:
                    raise NotBound(f"The role {binding.role_arn} no longer exists.")
                issued = issue_credentials(
                    session,
                    self.key,
                    account_id=role.account_id,
                    now=now,
                    duration_s=min(role.max_session_duration, 6 * 3600),
                    role=role,
                    session_name=binding.session_name,
                )
            binding.issued = issued
        return {
            "AccessKeyId": issued.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "Token": issued.session_token,
            "Expiration": issued.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": binding.role_arn,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app the router's 169.254.170.2:80 listener serves."""
        if scope["type"] != "http":
            return
        status, body = 404, {"message": "Not found"}
        path = str(scope.get("path", ""))
        if scope.get("method") == "GET" and path.startswith(CREDENTIALS_PATH):
            peer = str((scope.get("client") or ("", 0))[0])
            try:
                status, body = 200, self.credentials(path.removeprefix(CREDENTIALS_PATH), peer)
            except NotBound:
                status, body = 403, {"message": "Forbidden"}
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))],
            }
        )
        await send({"type": "http.response.body", "body": data})
