"""``cove net probe`` and ``cove gc``: the kernel side of VPCs, seen and cleaned from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from cove.db import Database

__all__ = ["gc_command", "net_app"]

net_app = typer.Typer(no_args_is_help=True, help="The enforced VPCs in the kernel.")
console = Console()


@net_app.command("probe")
def probe_command(
    source: Annotated[str, typer.Option("--from", help="The ENI (eni-…) to probe from.")],
    destination: Annotated[str, typer.Option("--to", help="An address or an ENI (eni-…).")],
    port: Annotated[int, typer.Option(help="Destination port (TCP/UDP).")] = 443,
    protocol: Annotated[str, typer.Option(help="tcp, udp or icmp.")] = "tcp",
    region: Annotated[str, typer.Option(help="Region of the VPC.")] = "us-east-1",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 2.0,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="State directory.")] = Path(".cove"),
) -> None:
    """A real connection attempt from inside SOURCE's namespace, next to `cove explain`'s verdict."""
    from cove.app import init_state
    from cove.fabric import netns
    from cove.fabric.names import Names, fabric_tag
    from cove.fabric.probe import Agent, Probe
    from cove.netmodel import format_address
    from cove.services.ec2.explain import ExplainError, explain
    from cove.services.ec2.snapshot import load_network
    from cove.settings import Settings

    db, _key, account = init_state(Settings(state_dir=state_dir))
    names = Names(fabric_tag(state_dir))
    try:
        with db.read() as session:
            network = load_network(session, account.account_id, region)
            address = destination
            if destination.startswith("eni-"):
                if destination not in network.enis:
                    console.print(f"[red]unknown ENI {destination}[/]", highlight=False)
                    raise typer.Exit(2)
                address = format_address(network.primary_address(destination))
            verdict = explain(
                session,
                account_id=account.account_id,
                region=region,
                source=source,
                destination=address,
                port=None if protocol == "icmp" else port,
                protocol=protocol,
                principal_arn=None,
            ).to_dict()
    except ExplainError as exc:
        console.print(f"[red]cannot explain:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    namespace = names.eni(source)
    if not netns.exists(namespace):
        console.print(
            f"[red]{source} has no namespace[/]: the kernel holds this state directory's VPCs only while "
            "`cove server` (or `cove run`) runs with the fabric on (COVE_FABRIC=auto|on, as root).",
            highlight=False,
        )
        raise typer.Exit(2)
    listener: Agent | None = None
    if destination.startswith("eni-") and protocol in ("tcp", "udp") and netns.exists(names.eni(destination)):
        listener = Agent(names.eni(destination))
        try:
            listener.serve(**{protocol: [port]})
        except RuntimeError:
            listener.close()
            listener = None  # something already listens there: probe it as it is
    try:
        with Agent(namespace) as prober:
            outcome = prober.probe([Probe("p", protocol, address, port)], timeout=timeout)["p"]
    finally:
        if listener is not None:
            listener.close()
    reachable = outcome in ("open", "refused")
    predicted = verdict["decision"] == "ALLOW"
    console.print(f"probe   {source} -> {address} {protocol}/{port}: [bold]{outcome}[/]", highlight=False)
    console.print(f"kernel  {'ALLOW' if reachable else 'DENY'}", highlight=False)
    console.print(f"model   {verdict['decision']}", highlight=False)
    for blocker in verdict.get("blockers", []):
        console.print(f"        {blocker.get('code')}: {blocker.get('message', '')}", highlight=False)
    if reachable != predicted:
        console.print("[red]the kernel and the model disagree[/]")
        raise typer.Exit(3)
    raise typer.Exit(0 if reachable else 1)


def gc_command(
    state_dir: Annotated[Path, typer.Option("--state-dir", help="State directory.")] = Path(".cove"),
    everything: Annotated[
        bool, typer.Option("--all", help="Remove all of this state directory's kernel objects.")
    ] = False,
) -> None:
    """Remove namespaces (and what runs in them) that no live VPC object owns."""
    from cove.app import init_state
    from cove.fabric.kernel import Fabric
    from cove.fabric.names import Names, fabric_tag
    from cove.services.ec2.kernel_sync import desired_ruleset
    from cove.settings import Settings

    fabric = Fabric(Names(fabric_tag(state_dir)))
    db, _key, _account = init_state(Settings(state_dir=state_dir))
    try:
        jobs = _job_leftovers(db, state_dir, everything)
        removed = fabric.teardown() if everything else fabric.collect(desired_ruleset(db))
    finally:
        db.dispose()
    for item in jobs:
        console.print(f"removed {item}", highlight=False)
    for namespace in removed:
        console.print(f"removed {namespace}", highlight=False)
    console.print(
        f"{len(removed)} namespace(s) and {len(jobs)} job container(s) or volume(s) removed", highlight=False
    )


def _job_leftovers(db: Database, state_dir: Path, everything: bool) -> list[str]:
    """Containers and volumes of this state directory's jobs that have ended (every job's with --all:
    a running server's jobs lose their instances)."""
    from sqlalchemy import select

    from cove.jobs.runner import remove_leftovers
    from cove.services.sagemaker.lifecycle import ACTIVE_STATUSES
    from cove.services.sagemaker.tables import JobRecord

    with db.read() as session:
        rows = session.execute(select(JobRecord.kind, JobRecord.arn, JobRecord.status)).all()
    removed: list[str] = []
    for kind, arn, status in rows:
        if everything or status not in ACTIVE_STATUSES:
            removed += remove_leftovers(state_dir, kind, arn)
    return removed
