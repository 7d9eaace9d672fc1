"""Clients for principals other than the account root."""

from __future__ import annotations

import secrets
from typing import Any

from cove.server import EmbeddedServer
from cove.services.iam.tables import Account
from cove.services.iam.users import create_access_key
from tests.conftest import make_client

__all__ = ["other_account_client"]


def other_account_client(server: EmbeddedServer, service: str) -> Any:
    """A client as the root of a second account on the same server."""
    account_id = "2" + "".join(secrets.choice("0123456789") for _ in range(11))
    with server.cove.db.session() as s:
        s.add(Account(id=account_id, name=f"other-{account_id}"))
        s.flush()
        created = create_access_key(s, server.cove.key, account_id, None)
    return make_client(
        server,
        service,
        aws_access_key_id=created["AccessKeyId"],
        aws_secret_access_key=created["SecretAccessKey"],
    )
