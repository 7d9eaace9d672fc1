"""S3 clients the agent zygote builds before it forks, so that its data agents need not build their own.

Building a boto3 client costs a forked agent ~18 ms of CPU, most of it copy-on-write faults on the
zygote's memory as the client's objects are made: more than moving a small channel. So the zygote
builds the client an agent will use before forking it (once for each region, pool size and set of
the agent's own AWS_* settings), with credentials that are filled in late: each agent resolves its
own, as boto3 would have (its environment's keys, or its instance's credentials endpoint, fetched
from inside the instance), and puts them into its copy of the client. The client is built under
the agent's environment (less its credentials), so it is the client the agent would have built,
except that no AWS configuration file is read: the zygote is root on the host, and the file names
may come from a job's Environment.
The credentials themselves the server hands the agent at its start (the endpoint's answer), so it
need not ask the endpoint before its first request; it asks when they are due for renewal.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    ReadOnlyCredentials,
    RefreshableCredentials,
)
from botocore.utils import ContainerMetadataFetcher

from cove.runtime.agents import AGENT_CREDENTIALS
from cove.runtime.transfer import ClientFactory, s3_config
from cove.runtime.transferplan import Plan, load_plan

__all__ = ["MAX_KINDS", "ClientCache", "LateCredentials", "own_credentials"]

_PER_AGENT = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        AGENT_CREDENTIALS,
    }
)
"""Variables that name an agent's own credentials: never in a shared client, nor in its key."""


class LateCredentials(Credentials):  # type: ignore[misc]
    """Credentials a client is built with before they exist: they stand for `source`, which the
    agent sets (botocore's own refreshable credentials when they come from an endpoint)."""

    def __init__(self) -> None:  # no super().__init__: every field is read from the source
        self.method = "cove-agent"
        self.source: Credentials | None = None

    def _source(self) -> Credentials:
        if self.source is None:
            raise RuntimeError("the agent's credentials were not resolved")
        return self.source

    @property  # type: ignore[override]
    def access_key(self) -> str:
        return str(self._source().access_key)

    @property  # type: ignore[override]
    def secret_key(self) -> str:
        return str(self._source().secret_key)

    @property  # type: ignore[override]
    def token(self) -> str | None:
        token = self._source().token
        return None if token is None else str(token)

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._source().get_frozen_credentials()


class _Late(CredentialProvider):  # type: ignore[misc]
    METHOD = "cove-agent"
    CANONICAL_NAME = "custom-cove-agent"

    def __init__(self, late: LateCredentials) -> None:
        super().__init__()
        self.late = late

    def load(self) -> LateCredentials:
        return self.late


def _settings(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith("AWS_") and k not in _PER_AGENT))


@contextlib.contextmanager
def _environment(settings: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """os.environ as an agent with these settings has it (the zygote is single-threaded)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if not k.startswith("AWS_")} | dict(settings))
    # As in the zygote's own environment: no configuration files are read.
    os.environ.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def own_credentials(session: Any) -> Credentials | None:
    """This agent's credentials: those the server handed it (AGENT_CREDENTIALS), renewed from its
    instance's credentials endpoint as botocore renews container credentials; else whatever
    `session` finds in the environment, as boto3 would."""
    given, uri = os.environ.get(AGENT_CREDENTIALS), os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not given or not uri:
        return session.get_credentials()

    def fetch() -> dict[str, str]:
        return _metadata(ContainerMetadataFetcher().retrieve_full_uri(uri))

    return RefreshableCredentials.create_from_metadata(
        metadata=_metadata(json.loads(given)), refresh_using=fetch, method="container-role"
    )


def _metadata(answer: dict[str, str]) -> dict[str, str]:
    return {
        "access_key": answer["AccessKeyId"],
        "secret_key": answer["SecretAccessKey"],
        "token": answer["Token"],
        "expiry_time": answer["Expiration"],
    }


MAX_KINDS = 16
"""Clients kept at most (the oldest is dropped): a job's Environment may set AWS_* variables, each
new set of which is a kind of its own."""


class ClientCache:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.clients: dict[tuple[Any, ...], tuple[Any, LateCredentials]] = {}

    def prepare(self, plan_path: str, env: Mapping[str, str]) -> None:
        """In the zygote, before forking the agent of this plan and environment: its client, built
        now unless one of its kind already is. A plan that cannot be read is left to the agent,
        which reports it."""
        settings = _settings(env)
        with _environment(settings):
            try:
                plan = load_plan(plan_path)
            except Exception:
                return
            key = (plan.region, plan.workers, settings)
            if key in self.clients:
                return
            if len(self.clients) >= MAX_KINDS:  # the settings include the jobs' own AWS_* variables
                del self.clients[next(iter(self.clients))]
            late = LateCredentials()
            session = botocore.session.Session()
            session.register_component("data_loader", self.loader)
            session.register_component("credential_provider", CredentialResolver([_Late(late)]))
            client = session.create_client("s3", config=s3_config(plan))
        self.clients[key] = (client, late)
        # Its objects are shared by every later fork: never collected there, no faults on them.
        gc.freeze()

    def factory(self, session: Any) -> ClientFactory:
        """In the forked agent: its client from the cache, holding the credentials that `session`
        (a botocore session of this agent, not used yet) resolves from the agent's environment;
        when none was prepared, or no credentials are found (the error is then boto3's own), a
        client of its own from `session`."""

        def client(plan: Plan) -> Any:
            prepared = self.clients.get((plan.region, plan.workers, _settings(os.environ)))
            found = own_credentials(session) if prepared is not None else None
            if prepared is None or found is None:
                return boto3.session.Session(botocore_session=session).client("s3", config=s3_config(plan))
            built, late = prepared
            late.source = found
            return built

        return client
