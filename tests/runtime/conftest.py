"""After the runtime tests: no container of this process left a cgroup, a process or a runtime
directory behind, and no namespace it made is left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cove.fabric import netns
from cove.runtime import container


@pytest.fixture(scope="session", autouse=True)
def no_container_leftovers() -> Iterator[None]:
    yield
    left = [item for name in sorted(container.STARTED) for item in container.leftovers(name)]
    assert not left, f"containers left behind: {left}"
    namespaces = sorted(n for n in netns.CREATED if netns.exists(n))
    assert not namespaces, f"namespaces left behind: {namespaces}"
