"""S3 clients built by the zygote before a fork: one per kind, each agent signing with its own
credentials (handed at its start, renewed from its credentials endpoint), against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import botocore.session
import pytest
from botocore.exceptions import ClientError

from cove.runtime.agents import AGENT_CREDENTIALS
from cove.runtime.s3clients import MAX_KINDS, ClientCache, own_credentials
from cove.runtime.transferplan import Plan
from tests.runtime.credentials_endpoint import serving

if TYPE_CHECKING:
    from cove.server import EmbeddedServer


def _answer(key: str, expires_in: timedelta) -> dict[str, str]:
    expiration = datetime.now(UTC) + expires_in
    return {
        "AccessKeyId": key,
        "SecretAccessKey": f"secret-of-{key}",
        "Token": f"token-of-{key}",
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[str]]]:
    """A credentials endpoint on loopback answering with key RENEWED; the paths it was asked."""
    with serving(lambda: _answer("RENEWED", timedelta(hours=1))) as served:
        yield served


def _clear_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("AWS_") or n == AGENT_CREDENTIALS]:
        monkeypatch.delenv(name)


def test_handed_credentials_are_used_without_asking_and_renewed_from_the_endpoint(
    endpoint: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, asked = endpoint
    _clear_aws(monkeypatch)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
    session = botocore.session.Session()

    monkeypatch.setenv(AGENT_CREDENTIALS, json.dumps(_answer("HANDED", timedelta(hours=1))))
    fresh = own_credentials(session)
    assert fresh is not None
    assert fresh.get_frozen_credentials().access_key == "HANDED"
    assert asked == []

    # Due for renewal (botocore renews in the last 10-15 minutes): asked of the endpoint.
    monkeypatch.setenv(AGENT_CREDENTIALS, json.dumps(_answer("EXPIRING", timedelta(minutes=2))))
    expiring = own_credentials(session)
    assert expiring is not None
    frozen = expiring.get_frozen_credentials()
    assert (frozen.access_key, frozen.token) == ("RENEWED", "token-of-RENEWED")
    assert asked == ["/v2/credentials/tok"]

    # Without handed credentials the agent finds them as boto3 would: from the endpoint.
    monkeypatch.delenv(AGENT_CREDENTIALS)
    found = botocore.session.Session().get_credentials()
    assert found is not None and found.get_frozen_credentials().access_key == "RENEWED"


def test_one_client_per_kind_signing_with_each_agents_own_keys(
    cove_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_aws(monkeypatch)
    account = cove_server.cove.account
    loader = botocore.session.Session().get_component("data_loader")
    cache = ClientCache(loader)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps({"result": str(tmp_path / "result.json"), "region": "us-east-1"}))
    settings = {"AWS_ENDPOINT_URL_S3": cove_server.endpoint_url, "AWS_REGION": "us-east-1"}
    secret = {"AWS_ACCESS_KEY_ID": "AKIAOTHER", "AWS_SECRET_ACCESS_KEY": "other"}

    cache.prepare(str(plan_path), settings | secret)
    cache.prepare(str(plan_path), settings | {"AWS_ACCESS_KEY_ID": "AKIATHIRD"})
    assert len(cache.clients) == 1  # credentials are not part of a client's kind
    cache.prepare(str(plan_path), settings | {"AWS_REGION": "eu-west-1"})
    assert len(cache.clients) == 2
    (client, late), _ = cache.clients.values()
    assert late.source is None  # the zygote holds no credentials
    plan = Plan(result="", region="us-east-1")

    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", account.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", account.secret_access_key)
    made = cache.factory(botocore.session.Session())(plan)
    assert made is client
    assert "Buckets" in made.list_buckets()

    # Another agent (another fork: here the same process) with keys the server does not know.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN0000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unknown")
    made = cache.factory(botocore.session.Session())(plan)
    assert made is client
    with pytest.raises(ClientError) as refused:
        made.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"

    # Jobs' own AWS_* variables make kinds of their own; the cache keeps the newest MAX_KINDS.
    for n in range(MAX_KINDS + 3):
        cache.prepare(str(plan_path), settings | {"AWS_JOB_SETTING": str(n)})
    assert len(cache.clients) == MAX_KINDS
    assert all(
        ("AWS_JOB_SETTING", str(n)) in key[2] for n, key in zip(range(3, 99), cache.clients, strict=False)
    )

    # A kind never prepared: the agent builds its own client.
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    other = cache.factory(botocore.session.Session())(Plan(result="", region="ap-south-1"))
    assert other is not client and other.meta.region_name == "ap-south-1"
