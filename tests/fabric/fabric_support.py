"""What the kernel tests need from the machine."""

from __future__ import annotations

import os
import shutil
import subprocess


def fabric_available() -> bool:
    """Root, iproute2, nftables and network namespaces."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "nft", "setpriv")):
        return False
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    return probe.returncode == 0


LIVE_PREFIXES: set[str] = set()
"""Namespace prefixes of servers shared for the whole session (tests/jobs) that are still up: the
session-end leftover checks of other directories skip them (those servers check their own)."""


def worker_tag(base: str) -> str:
    """A fabric tag of this test process's own: xdist workers run a module's tests side by side, and a
    shared tag would let one worker's set-up tear down the namespaces the other is probing."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return f"{base}{worker}"
