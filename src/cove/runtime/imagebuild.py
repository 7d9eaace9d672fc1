"""Building Cove's framework images: Python virtualenvs with the real SageMaker training toolkit.

Each image lives in `<images_dir>/<name>-<hash12>/` (a venv, built in place because venvs are not
relocatable) with its manifest `image.json` written last, so a directory without a manifest is an
interrupted build. `<images_dir>/<name>` is a symlink switched atomically to the current version.
Framework images are layered on `python` (the toolkit, boto3, numpy, pandas) through a `.pth` file
that adds the lower images' site-packages after the image's own, so what is shared is stored once.
The hash of an image covers its pins, its layers' hashes and the interpreter, so a build with nothing
changed is a no-op.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BASE_PATH",
    "MANIFEST",
    "RECIPES",
    "BuildError",
    "BuildResult",
    "Recipe",
    "build_images",
    "current_manifest",
]

MANIFEST = "image.json"
# Bump when the layout of a built image changes, so every image is rebuilt once.
FORMAT = 1
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLKIT = "sagemaker-training==5.1.4"

# Every package that ends up in an image, transitive dependencies included (from `pip freeze` of a
# build): passed as constraints so a rebuild next month installs the same bytes.
CONSTRAINTS = (
    "bcrypt==5.0.0",
    "boto3==1.44.5",
    "botocore==1.44.5",
    "cffi==2.1.1",
    "cloudpickle==3.1.2",
    "cryptography==50.0.2",
    "filelock==4.2.11",
    "fsspec==2026.9.0",
    "gevent==26.9.0",
    "greenlet==3.5.6",
    "inotify_simple==1.2.1",
    "invoke==3.0.3",
    "jinja2==3.1.6",
    "jmespath==1.1.0",
    "joblib==1.6.0",
    "markupsafe==3.0.4",
    "mpmath==1.3.0",
    "narwhals==2.29.0",
    "networkx==3.6.1",
    "numpy==2.4.6",
    "pandas==3.1.1",
    "paramiko==5.1.0",
    "protobuf==7.36.2",
    "psutil==7.2.2",
    "pycparser==3.12",
    "pynacl==1.6.2",
    "python-dateutil==2.9.0.post0",
    "retrying==1.4.2",
    "s3transfer==0.19.3",
    TOOLKIT,
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "six==1.17.0",
    "sympy==1.14.0",
    "threadpoolctl==3.8.0",
    "torch==2.13.0",
    "typing-extensions==4.16.0",
    "urllib3==2.8.0",
    "werkzeug==3.1.9",
    "xgboost-cpu==3.2.0",
    "zope.event==6.2",
    "zope.interface==8.7",
)


@dataclass(frozen=True)
class Recipe:
    name: str
    repositories: tuple[str, ...]
    """ECR repository names (as `sagemaker.image_uris.retrieve` produces them) this image serves."""
    packages: tuple[str, ...]
    layers: tuple[str, ...] = ()
    """Images whose packages this one sees, nearest first (each must be built before it)."""
    env: dict[str, str] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "python",
            ("sagemaker-base-python",),
            (TOOLKIT, "boto3==1.44.5", "numpy==2.4.6", "pandas==3.1.1"),
        ),
        Recipe(
            "sklearn",
            ("sagemaker-scikit-learn",),
            ("scikit-learn==1.9.1", "joblib==1.6.0"),
            layers=("python",),
        ),
        # The local wheel in pip's find-links is the CPU build; the index's torch pulls CUDA.
        Recipe("pytorch", ("pytorch-training",), ("torch==2.13.0",), layers=("python",)),
        # xgboost-cpu: the same module without the multi-GB NVIDIA packages.
        Recipe("xgboost", ("sagemaker-xgboost",), ("xgboost-cpu==3.2.0",), layers=("sklearn", "python")),
    )
}

# What SageMaker's framework containers set in their Dockerfiles that user code notices.
_IMAGE_ENV = {
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "TRUE",
    "PYTHONIOENCODING": "UTF-8",
    "PYTHONUNBUFFERED": "TRUE",
}

_TRAIN_SCRIPT = """#!{python}
import sys

from sagemaker_training.cli.train import main
if __name__ == "__main__":
    sys.exit(main())
"""


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildResult:
    name: str
    root: Path
    built: bool
    """False when the image was already up to date."""
    seconds: float
    size_bytes: int


def _interpreter(python: str) -> tuple[str, str]:
    """The real interpreter behind `python` (not a pyenv shim) and its full version."""
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.executable); print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return out[0], out[1]


def _hash(recipe: Recipe, version: str, layer_hashes: list[str]) -> str:
    doc = {
        "format": FORMAT,
        "python": version,
        "packages": list(recipe.packages),
        "constraints": list(CONSTRAINTS),
        "layers": layer_hashes,
        "env": recipe.env,
        "image_env": _IMAGE_ENV,
        "train_script": _TRAIN_SCRIPT,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def current_manifest(images_dir: Path, name: str) -> dict[str, Any] | None:
    """The manifest of the current build of `name`, or None when it is not built."""
    try:
        return json.loads((images_dir / name / MANIFEST).read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=_clean_env())
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _site_packages(root: Path) -> Path:
    return root / "lib" / "python3.11" / "site-packages"


def _build_one(
    recipe: Recipe, root: Path, interpreter: str, layer_roots: list[Path], digest: str
) -> dict[str, Any]:
    start = time.monotonic()
    _run([interpreter, "-m", "venv", str(root)], f"creating the venv of {recipe.name}")
    python = root / "bin" / "python"
    site = _site_packages(root)
    if layer_roots:
        # addsitedir (not a bare path) so the lower images' own .pth files are honoured too.
        lines = "; ".join(f"site.addsitedir({str(_site_packages(r))!r})" for r in layer_roots)
        (site / "_cove_layers.pth").write_text(f"import site; {lines}\n")
    constraints = root / "constraints.txt"
    constraints.write_text("\n".join(CONSTRAINTS) + "\n")
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "-c",
            str(constraints),
            *recipe.packages,
        ],
        f"installing {' '.join(recipe.packages)} into {recipe.name}",
    )
    train = root / "bin" / "train"
    if not train.exists():
        # The toolkit's console script lives in the lowest layer with that layer's interpreter;
        # this image needs one that runs its own python so its packages are importable.
        train.write_text(_TRAIN_SCRIPT.format(python=python))
        train.chmod(0o755)
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, env=_clean_env()
    ).stdout.split()
    _run([str(python), "-c", "import sagemaker_training.cli.train"], f"checking the toolkit in {recipe.name}")
    env = {"PATH": f"{root / 'bin'}:{BASE_PATH}", **_IMAGE_ENV, **recipe.env}
    return {
        "name": recipe.name,
        "uris": [f"<account>.dkr.ecr.<region>.amazonaws.com/{repo}:<tag>" for repo in recipe.repositories],
        "repositories": list(recipe.repositories),
        # Like SageMaker's framework images: no ENTRYPOINT, `train` on PATH, a shell as CMD.
        "entrypoint": [],
        "cmd": ["/bin/bash"],
        "env": env,
        "workdir": "/",
        "python": str(python),
        "layers": [str(r) for r in layer_roots],
        "packages": frozen,
        "inputs_hash": digest,
        "build_seconds": round(time.monotonic() - start, 1),
        "size_bytes": _size(root),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@contextmanager
def _locked(images_dir: Path) -> Iterator[None]:
    images_dir.mkdir(parents=True, exist_ok=True)
    with open(images_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _order(names: list[str]) -> list[str]:
    """`names` and every layer they need, lower layers first."""
    seen: list[str] = []

    def visit(name: str) -> None:
        for layer in RECIPES[name].layers:
            visit(layer)
        if name not in seen:
            seen.append(name)

    for name in names:
        visit(name)
    return seen


def build_images(
    images_dir: Path,
    only: list[str] | None = None,
    *,
    python: str = "python3.11",
    force: bool = False,
    log: Callable[[str], None] = lambda _line: None,
) -> list[BuildResult]:
    """Build (or confirm up to date) the framework images `only` names, default all of them."""
    unknown = [n for n in only or [] if n not in RECIPES]
    if unknown:
        raise BuildError(f"unknown image {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    if shutil.which(python) is None and not Path(python).exists():
        raise BuildError(f"{python} not found: framework images need Python 3.11")
    interpreter, version = _interpreter(python)
    if not version.startswith("3.11."):
        raise BuildError(f"{python} is Python {version.split()[0]}: framework images need Python 3.11")
    results: list[BuildResult] = []
    images_dir = images_dir.expanduser().absolute()
    with _locked(images_dir):
        hashes: dict[str, str] = {}
        roots: dict[str, Path] = {}
        for name in _order(only or list(RECIPES)):
            recipe = RECIPES[name]
            digest = _hash(recipe, version, [hashes[layer] for layer in recipe.layers])
            hashes[name] = digest
            root = images_dir / f"{name}-{digest[:12]}"
            roots[name] = root
            manifest = current_manifest(images_dir, name)
            if (
                not force
                and manifest is not None
                and manifest.get("inputs_hash") == digest
                and (root / MANIFEST).exists()
            ):
                results.append(BuildResult(name, root, False, 0.0, int(manifest.get("size_bytes", 0))))
                continue
            log(f"building {name} in {root}")
            shutil.rmtree(root, ignore_errors=True)
            try:
                doc = _build_one(recipe, root, interpreter, [roots[layer] for layer in recipe.layers], digest)
            except BaseException:
                shutil.rmtree(root, ignore_errors=True)
                raise
            tmp = root / f".{MANIFEST}.tmp"
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
            os.replace(tmp, root / MANIFEST)
            link_tmp = images_dir / f".{name}.link"
            link_tmp.unlink(missing_ok=True)
            link_tmp.symlink_to(root.name)
            os.replace(link_tmp, images_dir / name)
            results.append(BuildResult(name, root, True, doc["build_seconds"], doc["size_bytes"]))
            log(f"built {name}: {doc['build_seconds']}s, {doc['size_bytes'] / 2**20:.0f} MiB")
        _collect(images_dir, log)
    return results


def _collect(images_dir: Path, log: Callable[[str], None]) -> None:
    """Remove versions no current image is or layers on (superseded or interrupted builds)."""
    keep: set[str] = set()
    for name in RECIPES:
        link = images_dir / name
        if link.is_symlink():
            keep.add(os.readlink(link))
            manifest = current_manifest(images_dir, name) or {}
            keep.update(Path(layer).name for layer in manifest.get("layers", []))
    for entry in images_dir.iterdir():
        base, _, digest = entry.name.rpartition("-")
        stale = entry.name not in keep and not entry.is_symlink() and entry.is_dir()
        if base in RECIPES and len(digest) == 12 and stale:
            log(f"removing old build {entry.name}")
            shutil.rmtree(entry, ignore_errors=True)
