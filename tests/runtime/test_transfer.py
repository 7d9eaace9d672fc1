"""The data agent run as the lead runs it (a subprocess with only env credentials and an S3 endpoint)
against the session's Cove server: placement, manifests, sharding, SageMaker's failure texts, output
archives, SSE-KMS, processing outputs and Continuous uploads."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from s3transfer.manager import TransferManager  # type: ignore[import-untyped]

from cove.runtime import uploads
from cove.runtime.s3failures import ROUTE_ADVICE
from cove.runtime.transferplan import parse_plan, training_outputs
from cove.server import EmbeddedServer
from tests.conftest import ClientFactory
from tests.runtime.credentials_endpoint import serving

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(client: ClientFactory) -> Any:
    return client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"cvtx-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def _env(server: EmbeddedServer, endpoint: str | None = None) -> dict[str, str]:
    account = server.cove.account
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "AWS_ENDPOINT_URL_S3": endpoint or server.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        "AWS_EC2_METADATA_DISABLED": "true",
    }


Agent = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def agent(cove_server: EmbeddedServer, tmp_path: Path) -> Agent:
    def run(plan: dict[str, Any], endpoint: str | None = None) -> tuple[int, dict[str, Any]]:
        plan = {
            "result": str(tmp_path / "result.json"),
            "role_arn": "arn:aws:iam::123456789012:role/R",
            **plan,
        }
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(plan))
        done = subprocess.run(
            [sys.executable, "-m", "cove.runtime.transfer", str(path)],
            env=_env(cove_server, endpoint),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result: dict[str, Any] = json.loads(Path(plan["result"]).read_text())
        assert (done.returncode == 0) == result["ok"], done.stderr
        return done.returncode, result

    return run


def _put(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode())


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _channel(name: str, uri: str, local: Path, **kw: Any) -> dict[str, Any]:
    return {"name": name, "s3_uri": uri, "local_dir": str(local), **kw}


KEYS = ["data/train/a.csv", "data/train/sub/b.csv", "data/train-data.csv", "data/trainer/c.csv", "data/x.csv"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("data/train/", {"a.csv", "sub/b.csv"}),
        ("data/train", {"a.csv", "sub/b.csv", "train-data.csv", "trainer/c.csv"}),
        ("data/x.csv", {"x.csv"}),
        ("data/", {"train/a.csv", "train/sub/b.csv", "train-data.csv", "trainer/c.csv", "x.csv"}),
    ],
)
def test_prefix_placement(
    s3: Any, bucket: str, agent: Agent, tmp_path: Path, prefix: str, expected: set[str]
) -> None:
    _put(s3, bucket, KEYS)
    local = tmp_path / "train"
    rc, result = agent({"download": {"channels": [_channel("train", f"s3://{bucket}/{prefix}", local)]}})
    assert rc == 0 and result["objects"] == len(expected)
    files = _tree(local)
    assert set(files) == expected
    assert all(body.startswith("body of data/") for body in files.values())


def test_manifest_channel_and_fastfile_copy(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    _put(s3, bucket, KEYS)
    manifest = [{"prefix": f"s3://{bucket}/data/"}, "train/a.csv", "x.csv"]
    s3.put_object(Bucket=bucket, Key="m/train.manifest", Body=json.dumps(manifest).encode())
    local = tmp_path / "m"
    channel = _channel(
        "m", f"s3://{bucket}/m/train.manifest", local, s3_data_type="ManifestFile", mode="FastFile"
    )
    rc, _ = agent({"download": {"channels": [channel]}})
    assert rc == 0 and _tree(local) == {
        "train/a.csv": "body of data/train/a.csv",
        "x.csv": "body of data/x.csv",
    }


def test_sharding_over_three_hosts(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    keys = [f"shards/part-{i:02d}" for i in range(10)]
    _put(s3, bucket, keys)
    seen: list[str] = []
    for host in range(3):
        local = tmp_path / f"algo-{host + 1}"
        channel = _channel(
            "s", f"s3://{bucket}/shards/", local, distribution="ShardedByS3Key", host_index=host, host_count=3
        )
        rc, result = agent({"download": {"channels": [channel]}})
        assert rc == 0 and result["objects"] in (3, 4)
        seen += list(_tree(local))
    assert sorted(seen) == sorted(k.split("/")[1] for k in keys)


def test_double_slash_key(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    _put(s3, bucket, ["shared//train/requirements.txt", "shared/ok.txt"])
    rc, result = agent({"download": {"channels": [_channel("c", f"s3://{bucket}/shared", tmp_path / "c")]}})
    assert rc == 1
    assert result["reason"] == (
        f"ClientError: Data download failed:Failed to download data. S3 key: s3://{bucket}/shared//train/"
        "requirements.txt has an illegal char sub-sequence '//' in it"
    )


def test_empty_prefix_and_missing_bucket(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    for uri, named in (
        (f"s3://{bucket}/nothing/", bucket),
        ("s3://cvtx-no-such-bucket/x", "cvtx-no-such-bucket"),
    ):
        rc, result = agent({"download": {"channels": [_channel("c", uri, tmp_path / "c")]}})
        assert rc == 1
        assert result["reason"] == (
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
            "that the bucket exists in the selected region (us-east-1), that objects exist under that S3 prefix, "
            f'and that the role "arn:aws:iam::123456789012:role/R" has "s3:ListBucket" permissions on bucket '
            f'"{named}".'
        )


def test_gzip_channel_and_checkpoint_download(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="gz/a.txt", Body=gzip.compress(b"inflated"))
    _put(s3, bucket, ["ckpt/step-1/w.pt", "ckpt-old/ignored.pt"])
    plan = {
        "download": {
            "channels": [_channel("g", f"s3://{bucket}/gz/", tmp_path / "g", compression="Gzip")],
            "checkpoint": {"s3_uri": f"s3://{bucket}/ckpt", "local_dir": str(tmp_path / "checkpoints")},
        }
    }
    rc, result = agent(plan)
    assert rc == 0 and result["objects"] == 2
    assert (tmp_path / "g" / "a.txt").read_bytes() == b"inflated"
    assert _tree(tmp_path / "checkpoints") == {"step-1/w.pt": "body of ckpt/step-1/w.pt"}


def _get(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_training_archives_merge_hosts(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    algo1, algo2, data = tmp_path / "a1" / "model", tmp_path / "a2" / "model", tmp_path / "a1" / "data"
    for d in (algo1 / "sub", algo2, data):
        d.mkdir(parents=True)
    (algo1 / "model.pth").write_text("host1")
    (algo1 / "sub" / "vocab.txt").write_text("v")
    (algo2 / "model.pth").write_text("host2")  # the later host overwrites
    (data / "metrics.json").write_text("{}")
    items = training_outputs(f"s3://{bucket}/out/", "job-1", [str(algo1), str(algo2)], [str(data)])
    rc, result = agent({"upload": items})
    assert rc == 0 and result["objects"] == 2
    with tarfile.open(
        fileobj=io.BytesIO(_get(s3, bucket, "out/job-1/output/model.tar.gz")), mode="r:gz"
    ) as tar:
        names = tar.getnames()
        assert sorted(n for n in names if tar.getmember(n).isfile()) == ["model.pth", "sub/vocab.txt"]
        assert all(not n.startswith(("/", "./")) for n in names)
        member = tar.extractfile("model.pth")
        assert member is not None and member.read() == b"host2"
    with tarfile.open(
        fileobj=io.BytesIO(_get(s3, bucket, "out/job-1/output/output.tar.gz")), mode="r:gz"
    ) as tar:
        assert tar.getnames() == ["metrics.json"]


def test_uncompressed_model_and_empty_output(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    model, data = tmp_path / "model", tmp_path / "data"
    (model / "d").mkdir(parents=True)
    data.mkdir()
    (model / "d" / "w.bin").write_bytes(b"\x00\x01")
    items = training_outputs(f"s3://{bucket}", "job-2", [str(model)], [str(data)], compression="NONE")
    rc, _ = agent({"upload": items})
    assert rc == 0
    assert _get(s3, bucket, "job-2/output/model/d/w.bin") == b"\x00\x01"
    with tarfile.open(fileobj=io.BytesIO(_get(s3, bucket, "job-2/output/output.tar.gz")), mode="r:gz") as tar:
        assert tar.getnames() == []


def test_processing_outputs_skip_links_and_use_kms(
    s3: Any, bucket: str, agent: Agent, tmp_path: Path, client: ClientFactory
) -> None:
    out = tmp_path / "processing" / "output"
    (out / "a" / "b").mkdir(parents=True)
    (out / "top.csv").write_text("t")
    (out / "a" / "b" / "deep.csv").write_text("d")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.txt").write_text("s")
    (out / "link.csv").symlink_to(out / "top.csv")
    (out / "linkdir").symlink_to(outside)
    key = client("kms").create_key(Description="transfer test")["KeyMetadata"]
    plan = {
        "upload": {
            "kms_key_id": key["KeyId"],
            "items": [{"kind": "tree", "sources": [str(out)], "s3_uri": f"s3://{bucket}/proc/out1"}],
        }
    }
    rc, result = agent(plan)
    assert rc == 0 and result["objects"] == 2
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == ["proc/out1/a/b/deep.csv", "proc/out1/top.csv"]
    head = s3.head_object(Bucket=bucket, Key="proc/out1/a/b/deep.csv")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]


def test_kms_disabled_key_fails_upload(
    s3: Any, bucket: str, agent: Agent, tmp_path: Path, client: ClientFactory
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "f").write_text("x")
    kms = client("kms")
    key = kms.create_key(Description="disabled")["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    item = {"kind": "tree", "sources": [str(out)], "s3_uri": f"s3://{bucket}/o", "kms_key_id": key["KeyId"]}
    rc, result = agent({"upload": [item]})
    assert rc == 1
    assert result["reason"].startswith(
        f"ClientError: Artifact upload failed:Unable to upload object s3://{bucket}/o/f"
    )
    assert "(KMS.DisabledException: " in result["reason"]


def test_access_denied(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    _put(s3, bucket, ["in/a.csv"])
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    rc, result = agent({"download": {"channels": [_channel("c", f"s3://{bucket}/in/", tmp_path / "c")]}})
    assert rc == 1
    # S3's own AccessDenied text follows the code (Cove, like AWS today, names the denying policy).
    denied = "is not authorized to perform: s3:GetObject"
    assert result["reason"].startswith(
        f"ClientError: Data download failed:Unable to download object s3://{bucket}/in/a.csv (AccessDenied: "
    )
    assert denied in result["reason"] and result["reason"].endswith(")")
    out = tmp_path / "model"
    out.mkdir()
    items = training_outputs(f"s3://{bucket}/out", "j", [str(out)], [str(out)])
    rc, result = agent({"upload": items})
    assert rc == 1
    assert result["reason"].startswith(
        f"ClientError: Artifact upload failed:Unable to upload object s3://{bucket}/out/j/output/model.tar.gz "
        "(AccessDenied: "
    )
    assert "is not authorized to perform: s3:PutObject" in result["reason"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_s3_fails_fast_with_route_advice(agent: Agent, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    rc, result = agent(
        {"download": {"channels": [_channel("c", "s3://b/p/", tmp_path / "c")]}}, endpoint=endpoint
    )
    assert rc == 1 and result["reason"] == f"ClientError: Data download failed:{ROUTE_ADVICE}"
    model = tmp_path / "model"
    model.mkdir()
    rc, result = agent(
        {"upload": training_outputs("s3://b/o", "j", [str(model)], [str(model)])}, endpoint=endpoint
    )
    assert rc == 1 and result["reason"] == (
        "ClientError: Artifact upload failed:Please ensure that the subnet's route table has a route to an S3 VPC "
        "endpoint or a NAT device, and both the security groups and the subnet's network ACL allow outbound "
        "traffic to S3"
    )
    assert time.monotonic() - started < 20


def test_silent_s3_times_out_in_seconds(agent: Agent, tmp_path: Path) -> None:
    """A VPC without a path drops the SYNs: a listener whose one-slot backlog is full does the same."""
    with socket.socket() as silent, socket.socket() as filler:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        filler.connect(silent.getsockname())
        started = time.monotonic()
        rc, result = agent(
            {"download": {"channels": [_channel("c", "s3://b/p/", tmp_path / "c")]}},
            endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}",
        )
        elapsed = time.monotonic() - started
    assert rc == 1 and result["reason"] == f"ClientError: Data download failed:{ROUTE_ADVICE}"
    assert 3 <= elapsed < 15, elapsed  # 3 s connect timeout, one retry


def test_credentials_from_the_container_endpoint(
    s3: Any, bucket: str, client: ClientFactory, cove_server: EmbeddedServer, tmp_path: Path
) -> None:
    """No keys in the environment: boto3 asks AWS_CONTAINER_CREDENTIALS_FULL_URI, as in a job."""
    creds = client("sts").get_session_token()["Credentials"]
    answer = {
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "Token": creds["SessionToken"],
        "Expiration": creds["Expiration"].isoformat(),
    }
    _put(s3, bucket, ["c/a.csv"])
    with serving(lambda: answer) as (uri, asked):
        env = _env(cove_server)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = uri
        plan = {
            "result": str(tmp_path / "r.json"),
            "download": {"channels": [_channel("c", f"s3://{bucket}/c/", tmp_path / "c")]},
        }
        (tmp_path / "p.json").write_text(json.dumps(plan))
        done = subprocess.run(
            [sys.executable, "-m", "cove.runtime.transfer", str(tmp_path / "p.json")],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert asked
    assert done.returncode == 0, done.stderr
    assert _tree(tmp_path / "c") == {"a.csv": "body of c/a.csv"}


def test_refuses_augmented_manifest(agent: Agent, tmp_path: Path) -> None:
    channel = _channel("c", "s3://b/m", tmp_path / "c", s3_data_type="AugmentedManifestFile")
    rc, result = agent({"download": {"channels": [channel]}})
    assert (
        rc == 1
        and result["reason"].startswith("ClientError: ")
        and "AugmentedManifestFile" in result["reason"]
    )


def test_large_object_round_trip(s3: Any, bucket: str, agent: Agent, tmp_path: Path) -> None:
    src = tmp_path / "big" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(os.urandom(40 << 20))  # above the 16 MiB multipart threshold: parts both ways
    rc, _ = agent(
        {"upload": [{"kind": "tree", "sources": [str(src.parent)], "s3_uri": f"s3://{bucket}/big"}]}
    )
    assert rc == 0
    rc, result = agent({"download": {"channels": [_channel("c", f"s3://{bucket}/big/", tmp_path / "c")]}})
    assert rc == 0 and result["bytes"] == 40 << 20
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "c" / "blob.bin").read_bytes()).hexdigest() == digest


def test_continuous_upload_sees_files_written_during_the_watch(
    s3: Any, bucket: str, cove_server: EmbeddedServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "early.txt").write_text("early")
    stop = tmp_path / "stop"
    plan = {
        "result": str(tmp_path / "result.json"),
        "upload": [{"kind": "tree", "sources": [str(out)], "s3_uri": f"s3://{bucket}/live", "delete": True}],
        "watch": {"stop_file": str(stop), "interval": 0.2},
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cove.runtime.transfer", "--watch", str(tmp_path / "plan.json")],
        env=_env(cove_server),
        cwd=REPO,
    )
    try:

        def keys() -> set[str]:
            return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="live/").get("Contents", [])}

        def wait_for(want: set[str]) -> None:
            deadline = time.monotonic() + 30
            while keys() != want:
                assert time.monotonic() < deadline, keys()
                time.sleep(0.2)

        wait_for({"live/early.txt"})
        (out / "later").mkdir()
        (out / "later" / "during.txt").write_text("during")
        wait_for({"live/early.txt", "live/later/during.txt"})  # uploaded while the job still runs
        (out / "early.txt").unlink()
        wait_for({"live/later/during.txt"})  # delete: the sync removes what the job removed
        (out / "last.txt").write_text("last")
        stop.touch()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert keys() == {"live/later/during.txt", "live/last.txt"}
    assert json.loads((tmp_path / "result.json").read_text())["ok"] is True


def test_a_file_removed_while_being_sent_is_skipped(
    s3: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Continuous uploads meet temporary files; one that vanishes mid-pass must not fail the job."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("k")
    (out / "tmp.txt").write_text("t")
    real = uploads._signature

    def vanishing(path: Path) -> tuple[int, int]:
        signature = real(path)
        if path.name == "tmp.txt":
            path.unlink()
        return signature

    monkeypatch.setattr(uploads, "_signature", vanishing)
    plan = parse_plan(
        {
            "result": str(tmp_path / "r.json"),
            "upload": [{"kind": "tree", "sources": [str(out)], "s3_uri": f"s3://{bucket}/v"}],
        }
    )
    manager = TransferManager(s3)
    try:
        sent = uploads.Uploader(s3, manager, plan).run(final=False)
    finally:
        manager.shutdown()
    assert sent.objects == 1
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/keep.txt"]
