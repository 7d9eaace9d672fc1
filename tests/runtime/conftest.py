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
    # Only the runtime tests' own namespaces: a server another test directory shares for the whole
    # session (tests/jobs) may still be up when this check runs, and checks its own at its end.
    namespaces = sorted(n for n in netns.CREATED if n.startswith("cvtrt") and netns.exists(n))
    assert not namespaces, f"namespaces left behind: {namespaces}"
