"""One Cove server per test session (per xdist worker), and boto3 clients pointed at it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

# Tests must never pick up a developer's real AWS configuration or credentials.
_isolated = tempfile.mkdtemp(prefix="cove-test-aws-")
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.path.join(_isolated, "config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_isolated, "credentials")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# The kernel fabric is opted into by the tests that exercise it (tests/fabric); elsewhere a VPC
# made through the API stays a database row, so the suite leaves no namespaces behind.
os.environ["COVE_FABRIC"] = "off"

from cove.server import EmbeddedServer, free_port  # noqa: E402
from cove.settings import Settings  # noqa: E402

ClientFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def cove_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    state = tmp_path_factory.mktemp("cove-state")
    server = EmbeddedServer(Settings(state_dir=state, port=free_port()))
    with server:
        yield server


def make_client(server: EmbeddedServer, name: str, **creds: str) -> Any:
    account = server.cove.account
    session = boto3.Session(
        aws_access_key_id=creds.get("aws_access_key_id", account.access_key_id),
        aws_secret_access_key=creds.get("aws_secret_access_key", account.secret_access_key),
        aws_session_token=creds.get("aws_session_token"),
        region_name="us-east-1",
    )
    return session.client(name, endpoint_url=server.endpoint_url, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="session")
def client(cove_server: EmbeddedServer) -> ClientFactory:
    """``client("iam")`` as the account root, ``client("sts", aws_access_key_id=…, …)`` as someone else."""

    def factory(name: str, **creds: str) -> Any:
        return make_client(cove_server, name, **creds)

    return factory
