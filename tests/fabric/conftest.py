"""After the kernel tests: nothing of Cove is left in the kernel, and nothing ever touched the host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from cove.fabric import netns
from tests.fabric.fabric_support import LIVE_PREFIXES


def host_links_into(namespaces: set[str]) -> list[str]:
    """Interfaces of the host's namespace whose veth peer lives in one of `namespaces`."""
    ids = json.loads(
        subprocess.run(["ip", "-j", "netns", "list-id"], capture_output=True, text=True).stdout or "[]"
    )
    named = {entry["nsid"]: entry.get("name") for entry in ids}
    links = json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout or "[]"
    )
    return [
        link["ifname"]
        for link in links
        if "link_netnsid" in link and named.get(link["link_netnsid"]) in namespaces
    ]


@pytest.fixture(scope="session", autouse=True)
def no_kernel_leftovers() -> Iterator[None]:
    """Every namespace this test process created (through cove.fabric.netns) is gone at the end.
    Scoped to this process, so parallel workers and other sessions do not count."""
    yield
    left = sorted(
        n for n in netns.CREATED if netns.exists(n) and not any(n.startswith(p) for p in LIVE_PREFIXES)
    )
    assert not left, f"namespaces left behind: {left}"
