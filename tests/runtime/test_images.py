"""Image URIs to directories, docker's argv rules, and the real framework images running script mode.

The last tests run the images `cove image build` made (the Makefile builds them before the suite);
they are skipped, with the reason, where an image is not built.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from cove.runtime.imagebuild import MANIFEST, RECIPES, current_manifest
from cove.runtime.images import (
    REGISTRY_FILE,
    Image,
    ImageRegistry,
    NoCommand,
    UnknownImage,
    argv_for,
    parse_uri,
)
from cove.settings import Settings

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PYTORCH = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
XGBOOST = "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"
PYTHON = "236514542706.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python:1.0"
CUSTOM = "111122223333.dkr.ecr.us-east-1.amazonaws.com/my-algo:1"


def _fake_framework(images_dir: Path, name: str) -> Path:
    """A built-looking framework image (manifest only) so resolution is tested without building."""
    root = images_dir / f"{name}-{'0' * 12}"
    (root / "bin").mkdir(parents=True)
    manifest = {
        "name": name,
        "entrypoint": [],
        "cmd": ["/bin/bash"],
        "env": {"PATH": f"{root / 'bin'}:/usr/bin:/bin", "PYTHONUNBUFFERED": "TRUE"},
        "workdir": "/",
        "inputs_hash": "0" * 64,
    }
    (root / MANIFEST).write_text(json.dumps(manifest))
    (images_dir / name).symlink_to(root.name)
    return root


def _algo_dir(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "algo"
    directory.mkdir()
    for name in names:
        (directory / name).write_text("#!/bin/sh\necho hi\n")
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture
def registry(tmp_path: Path) -> ImageRegistry:
    return ImageRegistry(tmp_path / "images", tmp_path / "state" / REGISTRY_FILE)


# -- URIs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "repository", "tag"),
    [
        (SKLEARN, "sagemaker-scikit-learn", "1.2-1-cpu-py3"),
        (PYTORCH, "pytorch-training", "2.1-cpu-py310"),
        (
            "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.1-cpu-py310",
            "pytorch-training",
            "2.1-cpu-py310",
        ),
        ("111122223333.dkr.ecr.us-gov-west-1.amazonaws.com/team/algo", "team/algo", "latest"),
    ],
)
def test_ecr_uris_parse_with_docker_default_tag(uri: str, repository: str, tag: str) -> None:
    parts = parse_uri(uri)
    assert parts is not None
    assert (parts["repository"], parts["tag"]) == (repository, tag)


@pytest.mark.parametrize(
    "uri", ["python:3.11", "docker.io/library/ubuntu", "12345.dkr.ecr.us-east-1.amazonaws.com/x:1", ""]
)
def test_non_ecr_uris_do_not_parse(uri: str) -> None:
    assert parse_uri(uri) is None


# -- argv rules (contract §1.1 training, §2 processing) --------------------------------------------------

DLC = Image(PYTORCH, "pytorch", Path("/"), ["bash", "-m", "start.sh"], ["/bin/bash"], {}, "/")
FRAMEWORK = Image(SKLEARN, "sklearn", Path("/"), [], ["/bin/bash"], {}, "/")


@pytest.mark.parametrize(
    ("image", "kind", "entrypoint", "arguments", "argv"),
    [
        # training: ENTRYPOINT kept, `train` replaces CMD; with no ENTRYPOINT `train` is looked up on PATH
        (DLC, "training", None, None, ["bash", "-m", "start.sh", "train"]),
        (FRAMEWORK, "training", None, None, ["train"]),
        # ContainerEntrypoint replaces ENTRYPOINT and CMD, no `train`
        (DLC, "training", ["/bin/bash"], None, ["/bin/bash"]),
        (DLC, "training", ["/bin/bash"], ["-c", "x"], ["/bin/bash", "-c", "x"]),
        # ContainerArguments alone replace CMD (and `train`), ENTRYPOINT kept
        (DLC, "training", None, ["--epochs", "2"], ["bash", "-m", "start.sh", "--epochs", "2"]),
        (FRAMEWORK, "training", None, ["python3", "a.py"], ["python3", "a.py"]),
        # processing: ENTRYPOINT + CMD as docker run would
        (DLC, "processing", None, None, ["bash", "-m", "start.sh", "/bin/bash"]),
        (FRAMEWORK, "processing", None, None, ["/bin/bash"]),
        (
            FRAMEWORK,
            "processing",
            ["python3", "/opt/ml/processing/input/code/p.py"],
            ["--k", "v"],
            ["python3", "/opt/ml/processing/input/code/p.py", "--k", "v"],
        ),
        (DLC, "processing", None, ["x"], ["bash", "-m", "start.sh", "x"]),
        # serving: `serve` like `train`
        (DLC, "serving", None, None, ["bash", "-m", "start.sh", "serve"]),
        (FRAMEWORK, "serving", None, None, ["serve"]),
    ],
)
def test_argv_follows_docker_rules(
    image: Image, kind: str, entrypoint: list[str] | None, arguments: list[str] | None, argv: list[str]
) -> None:
    assert argv_for(image, kind, entrypoint, arguments) == argv  # type: ignore[arg-type]


def test_processing_with_no_command_anywhere_is_refused() -> None:
    bare = Image(CUSTOM, "my-algo", Path("/"), [], [], {}, "/")
    with pytest.raises(NoCommand, match="my-algo"):
        argv_for(bare, "processing")


# -- framework resolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "name"),
    [(SKLEARN, "sklearn"), (PYTORCH, "pytorch"), (XGBOOST, "xgboost"), (PYTHON, "python")],
)
def test_any_account_region_tag_of_a_framework_repository_resolves(
    registry: ImageRegistry, uri: str, name: str
) -> None:
    root = _fake_framework(registry.images_dir, name)
    image = registry.resolve(uri)
    assert (image.name, image.root, image.uri) == (name, root.resolve(), uri)
    assert image.entrypoint == [] and image.cmd == ["/bin/bash"] and image.workdir == "/"
    assert image.env["PATH"].startswith(f"{root / 'bin'}:")
    other = uri.replace("us-", "ap-southeast-").rsplit(":", 1)[0] + ":9.9-gpu-py311"
    assert registry.resolve(other).root == root.resolve()


def test_framework_not_built_says_to_build(registry: ImageRegistry) -> None:
    with pytest.raises(UnknownImage) as err:
        registry.resolve(SKLEARN)
    message = str(err.value)
    assert SKLEARN in message and "'sklearn'" in message and "`cove image build`" in message


def test_unknown_uri_lists_what_is_available(registry: ImageRegistry, tmp_path: Path) -> None:
    _fake_framework(registry.images_dir, "sklearn")
    registry.add(CUSTOM, _algo_dir(tmp_path, "train"))
    unknown = "999999999999.dkr.ecr.us-east-1.amazonaws.com/nope:3"
    with pytest.raises(UnknownImage) as err:
        registry.resolve(unknown)
    message = str(err.value)
    assert message.startswith(f"The image '{unknown}' is not available in Cove. Available images: ")
    assert "<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:<tag>" in message
    assert CUSTOM in message and "pytorch-training" not in message  # only what is really there
    assert "`cove image add <uri> <directory>`" in message
    with pytest.raises(UnknownImage, match="not available in Cove"):
        registry.resolve("ubuntu:22.04")


# -- bring your own ----------------------------------------------------------------------------------------


def test_added_directory_resolves_with_its_executables_on_path(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    directory = _algo_dir(tmp_path, "train", "serve")
    registry.add(CUSTOM, directory)
    # a second registry on the same file sees it: it is on disk, not in memory
    again = ImageRegistry(registry.images_dir, registry.registry_file).resolve(CUSTOM)
    assert again.root == directory and again.name == "my-algo"
    assert again.env["PATH"].split(":")[0] == str(directory)
    assert again.entrypoint == [] and argv_for(again, "training") == ["train"]
    env = {"PATH": again.env["PATH"]}
    assert (
        subprocess.run(argv_for(again, "training"), env=env, capture_output=True, text=True).stdout == "hi\n"
    )
    assert CUSTOM in registry.available()
    assert json.loads(registry.registry_file.read_text())["images"][CUSTOM]["root"] == str(directory)


def test_image_json_in_the_directory_gives_entrypoint_and_env(
    registry: ImageRegistry, tmp_path: Path
) -> None:
    directory = _algo_dir(tmp_path)
    (directory / MANIFEST).write_text(
        json.dumps({"entrypoint": ["python3", "main.py"], "env": {"MODE": "fast"}, "workdir": "/srv"})
    )
    image = registry.add(CUSTOM, directory)
    assert (
        image.entrypoint == ["python3", "main.py"] and image.env["MODE"] == "fast" and image.workdir == "/srv"
    )
    assert argv_for(registry.resolve(CUSTOM), "training") == ["python3", "main.py", "train"]


def test_untagged_uri_is_latest(registry: ImageRegistry, tmp_path: Path) -> None:
    untagged = CUSTOM.rsplit(":", 1)[0]
    registry.add(untagged, _algo_dir(tmp_path, "train"))
    assert registry.resolve(f"{untagged}:latest").root == tmp_path / "algo"
    assert registry.remove(untagged) and not registry.remove(untagged)
    with pytest.raises(UnknownImage):
        registry.resolve(untagged)


@pytest.mark.parametrize(
    ("uri", "files", "message"),
    [
        ("my-algo:1", ("train",), "not an ECR image URI"),
        (SKLEARN, ("train",), "framework image 'sklearn'"),
        (CUSTOM, (), "no executable `train` or `serve`"),
    ],
)
def test_add_refuses(
    registry: ImageRegistry, tmp_path: Path, uri: str, files: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        registry.add(uri, _algo_dir(tmp_path, *files))
    assert not registry.registry_file.exists()


def test_registered_directory_that_vanished_is_reported(registry: ImageRegistry, tmp_path: Path) -> None:
    directory = _algo_dir(tmp_path, "train")
    registry.add(CUSTOM, directory)
    (directory / "train").unlink()
    directory.rmdir()
    with pytest.raises(UnknownImage, match="no longer exists"):
        registry.resolve(CUSTOM)


# -- the real images ----------------------------------------------------------------------------------------

IMAGES_DIR = Settings().image_dir


def _built(name: str) -> ImageRegistry:
    if current_manifest(IMAGES_DIR, name) is None:
        pytest.skip(f"framework image '{name}' is not built in {IMAGES_DIR} (run `cove image build`)")
    return ImageRegistry(IMAGES_DIR, Path("/nonexistent") / REGISTRY_FILE)


USER_SCRIPT = """
import json, os, sys
import numpy, pandas, sagemaker_training
keys = [k for k in os.environ if k.startswith("SM_")] + ["TRAINING_JOB_NAME"]
out = {k: os.environ[k] for k in keys}
out["argv"] = sys.argv[1:]
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(out, f)
print("epochs", os.environ["SM_HP_EPOCHS"], flush=True)
sys.exit(int(os.environ["SM_HP_EXIT"]))
"""


def _opt_ml(tmp_path: Path, exit_code: int) -> Path:
    """An /opt/ml tree as the platform writes it, with the v2 SDK's script-mode hyperparameters."""
    base = tmp_path / "opt_ml"
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (base / "input" / "data" / "train").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "output" / "data").mkdir(parents=True)
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(USER_SCRIPT)
    tarball = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(source / "train.py", arcname="train.py")
    hps = {
        "epochs": "3",
        "exit": str(exit_code),
        "sagemaker_submit_directory": json.dumps(str(tarball)),
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps("job-1"),
        "sagemaker_region": json.dumps("us-east-1"),
    }
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    # hosts must resolve before user code runs; outside a container only localhost surely does
    hosts = ["localhost"]
    resource = {
        "current_host": "localhost",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": hosts}
        ],
        "network_interface_name": "lo",
    }
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    channels = {"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    return base


def _train(image: Image, base: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **image.env,
        "SAGEMAKER_BASE_DIR": str(base),
        "TRAINING_JOB_NAME": "job-1",
        "AWS_REGION": "us-east-1",
    }
    return subprocess.run(
        argv_for(image, "training"), env=env, cwd=image.workdir, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("uri", "name"), [(PYTHON, "python"), (SKLEARN, "sklearn"), (PYTORCH, "pytorch"), (XGBOOST, "xgboost")]
)
def test_image_runs_a_script_mode_job_with_sm_variables(tmp_path: Path, uri: str, name: str) -> None:
    image = _built(name).resolve(uri)
    base = _opt_ml(tmp_path, 0)
    proc = _train(image, base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads((base / "model" / "seen.json").read_text())
    assert seen["SM_MODEL_DIR"] == str(base / "model")
    assert seen["SM_CHANNEL_TRAIN"] == str(base / "input" / "data" / "train")
    assert json.loads(seen["SM_HPS"]) == {"epochs": 3, "exit": 0}
    assert seen["SM_CURRENT_HOST"] == "localhost" and seen["TRAINING_JOB_NAME"] == "job-1"
    assert seen["argv"] == ["--epochs", "3", "--exit", "0"]
    assert "epochs 3" in proc.stdout + proc.stderr
    assert (base / "output" / "success").exists()


def test_failing_user_script_writes_the_toolkit_failure_file(tmp_path: Path) -> None:
    image = _built("python").resolve(PYTHON)
    base = _opt_ml(tmp_path, 3)
    proc = _train(image, base)
    assert proc.returncode != 0
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("ExecuteUserScriptError") and "ExitCode 3" in failure


@pytest.mark.parametrize(
    ("uri", "name", "module"),
    [(SKLEARN, "sklearn", "sklearn"), (PYTORCH, "pytorch", "torch"), (XGBOOST, "xgboost", "xgboost")],
)
def test_framework_images_have_their_framework_and_the_toolkit(uri: str, name: str, module: str) -> None:
    image = _built(name).resolve(uri)
    code = f"import {module}, sagemaker_training, pandas, sys; print(sys.prefix, {module}.__version__)"
    proc = subprocess.run(["python3", "-c", code], env=image.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == str(image.root)
    pins = [
        p
        for p in RECIPES[name].packages
        if p.split("==")[0].replace("-cpu", "") == module.replace("sklearn", "scikit-learn")
    ]
    assert pins and pins[0].split("==")[1] == proc.stdout.split()[1].split("+")[0]
    train = subprocess.run(["sh", "-c", "command -v train"], env=image.env, capture_output=True, text=True)
    assert train.stdout.strip() == str(image.root / "bin" / "train")
    assert os.access(image.root / "bin" / "train", os.X_OK)
