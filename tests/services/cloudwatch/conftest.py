"""A CloudWatch client on the session server, a fresh namespace per test, and times to put data at."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import ClientFactory


@pytest.fixture
def cw(client: ClientFactory) -> Any:
    return client("cloudwatch")


@pytest.fixture
def namespace() -> str:
    return f"Cove/Test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def base() -> datetime:
    """A whole hour, well inside the two weeks PutMetricData accepts."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
