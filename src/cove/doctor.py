"""``cove doctor``: what this host has of what Cove needs, and how to fix what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _run(*argv: str) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return proc.returncode == 0, out[0] if out else ""


def _binary(name: str, package: str, *version_args: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, False, "not found", f"apt-get install -y {package}")
    ok, detail = _run(path, *version_args) if version_args else (True, path)
    return Check(name, ok, detail or path, "" if ok else f"apt-get install --reinstall -y {package}")


def run_checks() -> list[Check]:
    checks = [
        Check(
            "python",
            sys.version_info >= (3, 11),
            sys.version.split()[0],
            "install Python 3.11 or newer",
        ),
        Check(
            "root",
            os.geteuid() == 0,
            f"euid {os.geteuid()}",
            "run Cove as root (namespaces and nftables need it)",
        ),
        _binary("ip", "iproute2", "-V"),
        _binary("nft", "nftables", "--version"),
        _binary("conntrack", "conntrack", "--version"),
    ]
    netns_ok, netns_detail = (False, "ip not found")
    if shutil.which("unshare"):
        netns_ok, netns_detail = _run("unshare", "--net", "true")
        netns_detail = netns_detail or ("network namespaces work" if netns_ok else "unshare --net failed")
    checks.append(
        Check("netns", netns_ok, netns_detail, "needs root and CONFIG_NET_NS (or a privileged container)")
    )
    if shutil.which("nft"):
        ok, detail = _run("nft", "list", "tables")
        checks.append(
            Check(
                "nftables kernel",
                ok,
                detail or "nf_tables available",
                "modprobe nf_tables (CONFIG_NF_TABLES)",
            )
        )
    conntrack = Path("/proc/sys/net/netfilter/nf_conntrack_max")
    checks.append(
        Check(
            "conntrack kernel",
            conntrack.exists(),
            "nf_conntrack loaded" if conntrack.exists() else "nf_conntrack not loaded",
            "modprobe nf_conntrack",
        )
    )
    fuse = Path("/dev/fuse")
    checks.append(
        Check(
            "fuse",
            fuse.exists(),
            "/dev/fuse present" if fuse.exists() else "/dev/fuse missing",
            "apt-get install -y fuse3; modprobe fuse",
        )
    )
    from cove.runtime import container, volume

    reason = container.available()
    checks.append(
        Check(
            "containers",
            reason is None,
            reason or "namespaces, setpriv and a cgroup memory controller (v1 or v2)",
            "run as root with cgroups mounted (jobs run their instances as containers)",
        )
    )
    reason = volume.available()
    checks.append(
        Check(
            "encrypted volumes",
            reason is None,
            reason or "gocryptfs and /dev/fuse (VolumeKmsKeyId)",
            "apt-get install -y gocryptfs fuse3",
        )
    )
    return checks
