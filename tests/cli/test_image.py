"""`cove image add | list | remove | build` from the shell."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cove.cli import app
from cove.runtime.imagebuild import current_manifest
from cove.runtime.images import REGISTRY_FILE, ImageRegistry
from cove.settings import Settings

runner = CliRunner()
URI = "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-algo:1"


def test_add_list_remove(tmp_path: Path) -> None:
    algo = tmp_path / "algo"
    algo.mkdir()
    (algo / "train").write_text("#!/bin/sh\nexit 0\n")
    (algo / "train").chmod(0o755)
    state, images = tmp_path / "state", tmp_path / "images"
    common = ["--state-dir", str(state)]

    added = runner.invoke(app, ["image", "add", URI, str(algo), "--entrypoint", '["/bin/sh"]', *common])
    assert added.exit_code == 0, added.output
    image = ImageRegistry(images, state / REGISTRY_FILE).resolve(URI)
    assert image.root == algo and image.entrypoint == ["/bin/sh"]

    listed = runner.invoke(app, ["image", "list", "--json", "--image-dir", str(images), *common])
    rows = json.loads(listed.output)
    assert {"uri": URI, "kind": "custom", "name": "my-algo", "root": str(algo), "built": True} == {
        k: v for k, v in rows[-1].items() if k != "size_bytes"
    }
    frameworks = {row["name"]: row["built"] for row in rows if row["kind"] == "framework"}
    assert frameworks == {"python": False, "sklearn": False, "pytorch": False, "xgboost": False}

    assert runner.invoke(app, ["image", "remove", URI, *common]).exit_code == 0
    again = runner.invoke(app, ["image", "remove", URI, *common])
    assert again.exit_code == 1 and "no registered image" in again.output


def test_add_refuses_a_directory_without_executables(tmp_path: Path) -> None:
    result = runner.invoke(app, ["image", "add", URI, str(tmp_path), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2 and "no executable" in result.output
    bad = runner.invoke(
        app, ["image", "add", URI, str(tmp_path), "--entrypoint", "sh", "--state-dir", str(tmp_path)]
    )
    assert bad.exit_code == 2


def test_build_of_an_unknown_image_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["image", "build", "--only", "tensorflow", "--image-dir", str(tmp_path)])
    assert result.exit_code == 1 and "unknown image tensorflow" in result.output
    assert not any(p.name != ".lock" for p in tmp_path.iterdir())


def test_build_of_an_up_to_date_image_is_a_no_op() -> None:
    images = Settings().image_dir
    before = current_manifest(images, "python")
    if before is None:
        pytest.skip(f"framework image 'python' is not built in {images} (run `cove image build`)")
    start = time.monotonic()
    result = runner.invoke(app, ["image", "build", "--only", "python"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output and time.monotonic() - start < 30
    assert current_manifest(images, "python") == before
