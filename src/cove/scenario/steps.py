"""What every scenario step shares: checked outcomes printed as they happen, and client factories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console

__all__ = ["Clients", "Steps", "ensure"]


class Steps:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.failures = 0

    def check(self, title: str, ok: bool, detail: str) -> None:
        mark = "[green]✔[/]" if ok else "[red]✘[/]"
        self.failures += not ok
        self.console.print(f"{mark} {title}: {detail}", highlight=False)


class Clients:
    """boto3 clients pointed at the embedded server, exactly as user code would build them."""

    def __init__(self, endpoint_url: str, session: boto3.Session) -> None:
        self.endpoint_url = endpoint_url
        self.session = session
        self.config = Config(retries={"max_attempts": 1})

    def __call__(self, name: str, session: boto3.Session | None = None) -> Any:
        return (session or self.session).client(  # type: ignore[call-overload]
            name, endpoint_url=self.endpoint_url, config=self.config
        )


def ensure(create: Callable[[], Any], code: str = "EntityAlreadyExists") -> None:
    try:
        create()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != code:
            raise
