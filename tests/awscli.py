"""The AWS CLI of this virtualenv pointed at a Cove server by AWS_ENDPOINT_URL and the account's keys
only (no other AWS_* variable of the caller's environment leaks in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cove.server import EmbeddedServer

__all__ = ["BIN", "AwsCli"]

BIN = Path(sys.executable).parent


class AwsCli:
    def __init__(self, server: EmbeddedServer, cwd: Path | None = None) -> None:
        account = server.cove.account
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
            AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"],
            AWS_ACCESS_KEY_ID=account.access_key_id,
            AWS_SECRET_ACCESS_KEY=account.secret_access_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=server.endpoint_url,
            PATH=f"{BIN}:{env.get('PATH', '')}",
        )
        self.env, self.cwd = env, cwd

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """`aws <args>`; with `check`, a failure fails the test with the CLI's stderr."""
        proc = subprocess.run(
            [str(BIN / "aws"), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=self.cwd,
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def service(self, name: str) -> Callable[..., Any]:
        """`aws <name> <args> --output json`: the parsed output ({} when empty), or with check=False
        the finished process whatever its exit status."""

        def run(*args: str, check: bool = True) -> Any:
            proc = self(name, *args, "--output", "json", check=check, timeout=60)
            if not check:
                return proc
            return json.loads(proc.stdout) if proc.stdout.strip() else {}

        return run
