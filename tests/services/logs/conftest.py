"""A logs client on the session server, and a fresh log group per test (removed afterwards)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ClientFactory


@pytest.fixture
def logs(client: ClientFactory) -> Any:
    return client("logs")


@pytest.fixture
def group(logs: Any) -> Iterator[str]:
    name = f"/cove/test/{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except logs.exceptions.ResourceNotFoundException:
        pass


def now_ms() -> int:
    return int(time.time() * 1000)
