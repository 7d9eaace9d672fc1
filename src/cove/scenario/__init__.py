"""The end-to-end scenario `make run` shows: an embedded server driven by unchanged boto3 code.

It grows with every capability; each step checks its outcome, so a broken step fails the run.
"""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from cove.profile import env_exports
from cove.scenario.data import data_steps
from cove.scenario.identity import SAGEMAKER_TRUST, identity_steps
from cove.scenario.jobs import job_steps
from cove.scenario.network import network_steps
from cove.scenario.steps import Clients, Steps
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings

__all__ = ["SAGEMAKER_TRUST", "run_scenario"]


def run_scenario(state_dir: Path, *, port: int = 0, console: Console | None = None) -> int:
    console = console or Console()
    settings = Settings(state_dir=state_dir, port=port or free_port())
    with EmbeddedServer(settings) as server:
        env = env_exports(settings, server.cove.account)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=settings.region,
        )
        client = Clients(server.endpoint_url, session)
        console.rule(f"Cove at {server.endpoint_url} (state: {state_dir})")
        steps = Steps(console)

        console.rule("identity", style="dim")
        role_arn = identity_steps(steps, client, server.cove.account.account_id, settings.region)
        console.rule("network", style="dim")
        network_steps(steps, client, server.cove, role_arn)
        console.rule("data at rest", style="dim")
        data_steps(steps, client, settings.state_dir)
        console.rule("jobs", style="dim")
        job_steps(steps, client, server.cove, role_arn, console)

        console.rule("services", style="dim")
        table = Table("service", "operations implemented")
        for name, count in server.cove.enabled_services().items():
            table.add_row(name, str(count) if count else "[dim]none yet[/]")
        console.print(table)
        try:
            client("sagemaker").list_endpoints()
            steps.check("unimplemented operations answer clearly", False, "no error")
        except ClientError as exc:
            err = exc.response["Error"]
            ok = (
                exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501
                and "ListEndpoints" in err["Message"]
            )
            steps.check("unimplemented operations answer clearly", ok, f"{err['Code']}: {err['Message']}")
        if server.cove.kernel is not None:
            server.cove.kernel.stop()
            # A scenario run leaves no kernel state behind (a `cove server` would adopt it instead).
            server.cove.kernel.fabric.teardown()
    console.rule("scenario passed" if not steps.failures else f"{steps.failures} step(s) failed")
    return 1 if steps.failures else 0
