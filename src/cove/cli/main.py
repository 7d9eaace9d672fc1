"""``cove server | env | doctor | run``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cove.settings import DEFAULT_HOST, DEFAULT_PORT, Settings

if TYPE_CHECKING:
    from cove.db import Database
    from cove.services.iam.accounts import LocalAccount

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Cove: SageMaker's API on kernel-enforced VPCs."
)
console = Console()


def _register_net() -> None:
    from cove.cli.image import image_app
    from cove.cli.net import gc_command, net_app

    app.add_typer(net_app, name="net")
    app.add_typer(image_app, name="image")
    app.command("gc")(gc_command)


StateDir = Annotated[Path, typer.Option("--state-dir", help="State directory (database, blobs, keys).")]


def _settings(state_dir: Path, **kw: object) -> Settings:
    return Settings(state_dir=state_dir).with_(**kw)


def _open(settings: Settings) -> tuple[Database, LocalAccount]:
    """The state directory's database and account, or a clear message and exit status 1."""
    from cove.app import StateMismatch, init_state

    try:
        db, _key, account = init_state(settings)
    except StateMismatch as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    return db, account


@app.command()
def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    state_dir: StateDir = Path(".cove"),
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://…")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Start the Cove server (AWS APIs on http://HOST:PORT)."""
    from cove.logconfig import configure_logging
    from cove.profile import write_profile
    from cove.server import serve

    settings = _settings(state_dir, host=host, port=port, database_url=database_url, log_level=log_level)
    configure_logging(log_level)
    db, account = _open(settings)
    db.dispose()
    write_profile(settings, account)
    console.print(
        f"[bold]Cove[/] on {settings.endpoint_url}  account {account.account_id}  state {state_dir}",
        highlight=False,
    )
    serve(settings)


@app.command()
def env(
    state_dir: StateDir = Path(".cove"),
    host: Annotated[str, typer.Option(help="Server address clients should use.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Server port clients should use.")] = DEFAULT_PORT,
) -> None:
    """Print export lines so that `eval "$(cove env)"` points boto3 and the AWS CLI at Cove."""
    from cove.profile import env_exports

    settings = _settings(state_dir, host=host, port=port)
    db, account = _open(settings)
    db.dispose()
    for name, value in env_exports(settings, account).items():
        typer.echo(f"export {name}={shlex.quote(value)}")


@app.command()
def doctor() -> None:
    """Check this host for what Cove needs (root, namespaces, nftables, conntrack, FUSE, cgroups)."""
    from cove.doctor import run_checks

    table = Table("check", "status", "detail", "fix")
    failed = 0
    for check in run_checks():
        failed += not check.ok
        table.add_row(
            check.name,
            "[green]ok[/]" if check.ok else "[red]missing[/]",
            check.detail,
            "" if check.ok else check.fix,
        )
    console.print(table)
    raise typer.Exit(1 if failed else 0)


@app.command("explain")
def explain_command(
    source: Annotated[str, typer.Option("--from", help="eni-…, subnet-… or an address in a subnet")],
    destination: Annotated[
        str,
        typer.Option(
            "--to", help="an address, eni-…, s3://bucket/key, or a service (s3, sagemaker.runtime, …)"
        ),
    ],
    port: Annotated[int | None, typer.Option(help="Destination port (443 for services).")] = None,
    protocol: Annotated[str, typer.Option(help="tcp, udp, icmp or a protocol number.")] = "tcp",
    principal: Annotated[
        str | None,
        typer.Option(help="Role or user ARN whose policies the request carries (S3 destinations)."),
    ] = None,
    region: Annotated[str, typer.Option(help="Region of the VPCs.")] = "us-east-1",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    state_dir: StateDir = Path(".cove"),
) -> None:
    """Can SOURCE reach DESTINATION? The verdict, the hop-by-hop path and every blocker."""
    from cove.cli.explain import dumps, render
    from cove.services.ec2.explain import ExplainError, explain

    db, account = _open(_settings(state_dir))
    try:
        with db.read() as session:
            result = explain(
                session,
                account_id=account.account_id,
                region=region,
                source=source,
                destination=destination,
                port=port,
                protocol=protocol,
                principal_arn=principal,
            ).to_dict()
    except ExplainError as exc:
        console.print(f"[red]cannot explain:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(dumps(result))
    else:
        render(result, console)
    raise typer.Exit(0 if result["decision"] == "ALLOW" else 1)


@app.command("audit")
def audit_command(
    state_dir: StateDir = Path(".cove"),
    source: Annotated[str | None, typer.Option(help="Event source: kms, s3, … or kms.amazonaws.com.")] = None,
    name: Annotated[str | None, typer.Option(help="Event name, e.g. Decrypt.")] = None,
    resource: Annotated[str | None, typer.Option(help="Resource ARN, bucket name or key id.")] = None,
    principal: Annotated[
        str | None, typer.Option(help="Caller ARN (a role's ARN also matches its sessions).")
    ] = None,
    denied: Annotated[bool, typer.Option("--denied", help="Only calls refused by policy.")] = False,
    since: Annotated[str | None, typer.Option(help="1h, 30m, 2d … or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="Like --since: only events up to then.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="The CloudTrail records as JSON.")] = False,
) -> None:
    """Who called what, on which resource, and what policy decided it (newest first)."""
    from cove.app import init_state
    from cove.cli.audit import build_filter, dumps, render
    from cove.services.cloudtrail.queries import find_events

    try:
        flt = build_filter(
            source=source,
            name=name,
            resource=resource,
            principal=principal,
            denied=denied,
            since=since,
            until=until,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    db, _key, _account = init_state(_settings(state_dir))
    try:
        with db.read() as session:
            records = [event.document for event in find_events(session, flt, limit=limit)]
    finally:
        db.dispose()
    if as_json:
        typer.echo(dumps(records))
    else:
        render(records, console)


@app.command()
def run(
    state_dir: StateDir = Path(".cove"),
    port: Annotated[int, typer.Option(help="Port for the embedded server (0 = any free port).")] = 0,
) -> None:
    """Start an embedded server and run the end-to-end scenario against it."""
    from cove.scenario import run_scenario

    raise typer.Exit(run_scenario(state_dir, port=port, console=console))


_register_net()


def main() -> None:
    app()
