"""Which directory an ECR image URI names, and how a job's argv is made from it.

SageMaker jobs name images by ECR URI; Cove has no registry pull, so a URI resolves either to a
framework image built by `cove image build` (any account, region and tag of the repositories
`sagemaker.image_uris.retrieve` returns) or to a directory registered with `cove image add`
(kept in `<state_dir>/images.json`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cove.runtime.imagebuild import BASE_PATH, MANIFEST, RECIPES, current_manifest

__all__ = ["REGISTRY_FILE", "Image", "ImageRegistry", "NoCommand", "UnknownImage", "argv_for", "parse_uri"]

REGISTRY_FILE = "images.json"
"""Bring-your-own images, in the state directory: ImageRegistry(images_dir, state_dir / REGISTRY_FILE)."""

# `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:<tag>][@sha256:<digest>]`
_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_FRAMEWORK_BY_REPOSITORY = {repo: recipe.name for recipe in RECIPES.values() for repo in recipe.repositories}


@dataclass(frozen=True)
class Image:
    uri: str
    name: str
    root: Path
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    """The image's environment; PATH holds its bin directories first."""
    workdir: str


class UnknownImage(LookupError):
    """The URI names no image Cove has; str() is the ValidationException message."""


class NoCommand(ValueError):
    """Neither the image nor the request gives a command (docker: "No command specified")."""


def parse_uri(uri: str) -> dict[str, str] | None:
    """The parts of an ECR image URI (tag defaults to `latest` as docker does), or None."""
    match = _URI.match(uri.strip())
    if match is None:
        return None
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    if "tag" not in parts and "digest" not in parts:
        parts["tag"] = "latest"
    return parts


def _canonical(uri: str) -> str:
    """`uri` with docker's implicit `:latest` made explicit, so both spellings name one image."""
    match = _URI.match(uri.strip())
    if match is None or match["tag"] or match["digest"]:
        return uri.strip()
    return f"{uri.strip()}:latest"


def argv_for(
    image: Image,
    kind: Literal["training", "processing", "serving"],
    container_entrypoint: Sequence[str] | None = None,
    container_arguments: Sequence[str] | None = None,
) -> list[str]:
    """The command SageMaker runs, by docker's rules (contract §1.1, §2).

    Training appends `train` and serving `serve` to the image ENTRYPOINT (dropping CMD); processing
    runs ENTRYPOINT + CMD. ContainerEntrypoint replaces ENTRYPOINT and CMD (no `train`);
    ContainerArguments replace CMD (and the `train`/`serve` argument), the ENTRYPOINT stays.
    """
    if container_entrypoint:
        argv = [*container_entrypoint, *(container_arguments or [])]
    elif container_arguments:
        argv = [*image.entrypoint, *container_arguments]
    elif kind == "training":
        argv = [*image.entrypoint, "train"]
    elif kind == "serving":
        argv = [*image.entrypoint, "serve"]
    else:
        argv = [*image.entrypoint, *image.cmd]
    if not argv:
        raise NoCommand(f"The image '{image.uri}' has no ENTRYPOINT or CMD and the request gives no command.")
    return argv


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ImageRegistry:
    """Framework images under `images_dir`, bring-your-own images listed in `registry_file`."""

    def __init__(self, images_dir: Path, registry_file: Path) -> None:
        self.images_dir = images_dir.expanduser()
        self.registry_file = registry_file

    # -- bring-your-own registry file -----------------------------------------------------------

    def _registered(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.registry_file.read_text())
        except FileNotFoundError:
            return {}
        images: dict[str, dict[str, Any]] = doc.get("images", {})
        return images

    @contextmanager
    def _editing(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.registry_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.registry_file.with_name(f".{self.registry_file.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            images = self._registered()
            yield images
            _atomic_write(self.registry_file, json.dumps({"images": images}, indent=2, sort_keys=True) + "\n")

    def add(
        self,
        uri: str,
        directory: Path,
        *,
        entrypoint: list[str] | None = None,
        cmd: list[str] | None = None,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> Image:
        """Register `directory` (with `train`/`serve` executables, optional image.json) as `uri`.

        image.json in the directory may give entrypoint, cmd, env and workdir; arguments win.
        """
        parts = parse_uri(uri)
        if parts is None:
            raise ValueError(
                f"'{uri}' is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>)."
            )
        if parts["repository"] in _FRAMEWORK_BY_REPOSITORY:
            framework = _FRAMEWORK_BY_REPOSITORY[parts["repository"]]
            raise ValueError(
                f"'{uri}' is served by Cove's framework image '{framework}'; choose another name."
            )
        directory = directory.expanduser().resolve()
        if not directory.is_dir():
            raise ValueError(f"{directory} is not a directory.")
        manifest: dict[str, Any] = {}
        if (directory / MANIFEST).exists():
            try:
                manifest = json.loads((directory / MANIFEST).read_text())
            except ValueError as exc:
                raise ValueError(f"{directory / MANIFEST} is not valid JSON: {exc}") from None
        executables = [n for n in ("train", "serve") if os.access(directory / n, os.X_OK)]
        if not executables and not (entrypoint or manifest.get("entrypoint")):
            raise ValueError(
                f"{directory} holds no executable `train` or `serve` and no entrypoint is given "
                f"(in {MANIFEST} or with --entrypoint)."
            )
        entry = {
            "root": str(directory),
            "entrypoint": list(entrypoint if entrypoint is not None else manifest.get("entrypoint", [])),
            "cmd": list(cmd if cmd is not None else manifest.get("cmd", [])),
            "env": {**manifest.get("env", {}), **(env or {})},
            "workdir": workdir or manifest.get("workdir", "/"),
        }
        with self._editing() as images:
            images[_canonical(uri)] = entry
        return self._custom(_canonical(uri), entry)

    def remove(self, uri: str) -> bool:
        with self._editing() as images:
            return images.pop(_canonical(uri), None) is not None

    @staticmethod
    def _custom(uri: str, entry: dict[str, Any]) -> Image:
        root = Path(entry["root"])
        parts = parse_uri(uri) or {}
        env = dict(entry.get("env", {}))
        if "PATH" not in env:
            # The directory itself is the image's bin dir: `train`/`serve` must be found on PATH.
            dirs = [str(root)] + ([str(root / "bin")] if (root / "bin").is_dir() else [])
            env["PATH"] = ":".join([*dirs, BASE_PATH])
        return Image(
            uri=uri,
            name=parts.get("repository", root.name),
            root=root,
            entrypoint=list(entry.get("entrypoint", [])),
            cmd=list(entry.get("cmd", [])),
            env=env,
            workdir=str(entry.get("workdir", "/")),
        )

    # -- lookups ----------------------------------------------------------------------------------

    def available(self) -> list[str]:
        """The URI patterns of the framework images that are built, then every registered URI."""
        out = []
        for recipe in RECIPES.values():
            if current_manifest(self.images_dir, recipe.name) is not None:
                out += [f"<account>.dkr.ecr.<region>.amazonaws.com/{r}:<tag>" for r in recipe.repositories]
        return out + sorted(self._registered())

    def describe(self) -> list[dict[str, Any]]:
        """One row per image for `cove image list`: uri, kind, name, root, built."""
        rows: list[dict[str, Any]] = []
        for recipe in RECIPES.values():
            manifest = current_manifest(self.images_dir, recipe.name)
            for repo in recipe.repositories:
                rows.append(
                    {
                        "uri": f"<account>.dkr.ecr.<region>.amazonaws.com/{repo}:<tag>",
                        "kind": "framework",
                        "name": recipe.name,
                        "root": str((self.images_dir / recipe.name).resolve()) if manifest else "",
                        "built": manifest is not None,
                        "size_bytes": manifest.get("size_bytes") if manifest else None,
                    }
                )
        for uri, entry in sorted(self._registered().items()):
            rows.append(
                {"uri": uri, "kind": "custom", "name": self._custom(uri, entry).name, "root": entry["root"]}
                | {"built": Path(entry["root"]).is_dir(), "size_bytes": None}
            )
        return rows

    def _unknown(self, uri: str) -> UnknownImage:
        listed = "; ".join(self.available()) or "none"
        return UnknownImage(
            f"The image '{uri}' is not available in Cove. Available images: {listed}. "
            "Build framework images with `cove image build` or register your own with "
            "`cove image add <uri> <directory>`."
        )

    def resolve(self, uri: str) -> Image:
        parts = parse_uri(uri)
        if parts is None:
            raise self._unknown(uri)
        registered = self._registered()
        entry = registered.get(_canonical(uri))
        if entry is not None:
            if not Path(entry["root"]).is_dir():
                raise UnknownImage(
                    f"The image '{uri}' is registered in Cove with the directory {entry['root']}, "
                    "which no longer exists. Register it again with `cove image add <uri> <directory>`."
                )
            return self._custom(_canonical(uri), entry)
        framework = _FRAMEWORK_BY_REPOSITORY.get(parts["repository"])
        if framework is None:
            raise self._unknown(uri)
        manifest = current_manifest(self.images_dir, framework)
        if manifest is None:
            raise UnknownImage(
                f"The image '{uri}' maps to Cove's framework image '{framework}', which is not built "
                f"in {self.images_dir}. Build it with `cove image build` (or `cove image build --only "
                f"{framework}`)."
            )
        root = (self.images_dir / framework).resolve()
        return Image(
            uri=uri,
            name=framework,
            root=root,
            entrypoint=list(manifest["entrypoint"]),
            cmd=list(manifest["cmd"]),
            env=dict(manifest["env"]),
            workdir=str(manifest["workdir"]),
        )
