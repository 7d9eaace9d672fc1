"""Can this machine run Cove's enforced VPCs? (root, iproute2, nftables, setpriv, namespaces)"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

__all__ = ["missing"]


@functools.cache
def missing() -> str | None:
    """None when the fabric can run here, else what is missing, in words a person can act on."""
    if os.geteuid() != 0:
        return "enforced VPCs need root (network namespaces and nftables)"
    absent = [tool for tool in ("ip", "nft", "setpriv", "conntrack") if shutil.which(tool) is None]
    if absent:
        return f"missing commands: {', '.join(absent)} (Debian packages iproute2, nftables, util-linux, conntrack)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create network namespaces: {probe.stderr.strip()}"
    return None
