"""``cove image build | add | list | remove``: the images SageMaker jobs run in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cove.runtime.images import ImageRegistry

__all__ = ["image_app"]

image_app = typer.Typer(no_args_is_help=True, help="Images that training and processing jobs run in.")
console = Console(soft_wrap=True)  # paths and URIs stay whole for copy and paste

StateDir = Annotated[Path, typer.Option("--state-dir", help="State directory (holds images.json).")]
ImageDir = Annotated[
    Path | None, typer.Option("--image-dir", help="Framework images (default: COVE_IMAGE_DIR or ~/.cache).")
]


def _registry(state_dir: Path, image_dir: Path | None) -> ImageRegistry:
    from cove.runtime.images import REGISTRY_FILE, ImageRegistry
    from cove.settings import Settings

    return ImageRegistry(image_dir or Settings().image_dir, state_dir / REGISTRY_FILE)


@image_app.command("build")
def build_command(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Build just this image (python, sklearn, pytorch, xgboost)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when up to date.")] = False,
    python: Annotated[
        str, typer.Option(help="The Python 3.11 interpreter images are made from.")
    ] = "python3.11",
    image_dir: ImageDir = None,
) -> None:
    """Build the framework images (skipped when up to date)."""
    from cove.runtime.imagebuild import BuildError, build_images
    from cove.settings import Settings

    target = image_dir or Settings().image_dir
    try:
        results = build_images(
            target, only, python=python, force=force, log=lambda line: console.print(line, highlight=False)
        )
    except BuildError as exc:
        console.print(f"[red]image build failed:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for r in results:
        state = f"built in {r.seconds:.0f}s" if r.built else "up to date"
        console.print(f"{r.name:8} {state:16} {r.size_bytes / 2**20:6.0f} MiB  {r.root}", highlight=False)


@image_app.command("add")
def add_command(
    uri: Annotated[
        str, typer.Argument(help="ECR-style URI jobs will name, e.g. 123456789012.dkr.ecr.…/algo:1")
    ],
    directory: Annotated[Path, typer.Argument(help="Directory with `train`/`serve` executables.")],
    entrypoint: Annotated[
        str | None, typer.Option(help='ENTRYPOINT as a JSON list, e.g. \'["python3", "/x/main.py"]\'.')
    ] = None,
    state_dir: StateDir = Path(".cove"),
    image_dir: ImageDir = None,
) -> None:
    """Register a directory as a bring-your-own image."""
    registry = _registry(state_dir, image_dir)
    try:
        parsed = json.loads(entrypoint) if entrypoint is not None else None
        if parsed is not None and not (isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)):
            raise ValueError("--entrypoint must be a JSON list of strings")
        image = registry.add(uri, directory, entrypoint=parsed)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"registered {image.uri} -> {image.root}", highlight=False)


@image_app.command("remove")
def remove_command(
    uri: Annotated[str, typer.Argument(help="A URI registered with `cove image add`.")],
    state_dir: StateDir = Path(".cove"),
) -> None:
    """Forget a bring-your-own image (its directory is left alone)."""
    registry = _registry(state_dir, None)
    if not registry.remove(uri):
        console.print(f"[red]no registered image {uri}[/]", highlight=False)
        raise typer.Exit(1)
    console.print(f"removed {uri}", highlight=False)


@image_app.command("list")
def list_command(
    state_dir: StateDir = Path(".cove"),
    image_dir: ImageDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Framework images (built or not) and registered images."""
    registry = _registry(state_dir, image_dir)
    rows = registry.describe()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("image", "kind", "status", "size", "uri")
    for row in rows:
        size = f"{row['size_bytes'] / 2**20:.0f} MiB" if row["size_bytes"] else ""
        status = "[green]ready[/]" if row["built"] else "[yellow]not built[/]"
        if row["kind"] == "custom" and not row["built"]:
            status = "[red]directory missing[/]"
        # any account and region: shown as a pattern, the full one is in --json
        uri = row["uri"].replace("<account>.dkr.ecr.<region>.amazonaws.com", "*")
        table.add_row(row["name"], row["kind"], status, size, uri)
    console.print(table)
