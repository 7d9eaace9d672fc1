"""The AWS CLI against Cove's S3: s3 cp/sync/ls and s3api calls."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cove.server import EmbeddedServer
from tests.awscli import AwsCli


@pytest.fixture
def aws(cove_server: EmbeddedServer, tmp_path: Path) -> Any:
    return AwsCli(cove_server, cwd=tmp_path)


def test_cli_cp_sync_ls_and_s3api(aws: Any, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    aws("s3", "mb", f"s3://{bucket}")
    local = tmp_path / "src"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha")
    (local / "sub" / "b.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # multipart in the CLI
    # sync compares a file's mtime with the object's LastModified, which has whole seconds: a file
    # written in the second of its upload would look newer than the object and go up again.
    for path in (local / "a.txt", local / "sub" / "b.bin"):
        os.utime(path, (time.time() - 60, time.time() - 60))
    aws("s3", "cp", str(local / "a.txt"), f"s3://{bucket}/single/a.txt")
    aws("s3", "sync", str(local), f"s3://{bucket}/tree")
    listing = aws("s3", "ls", f"s3://{bucket}/tree/", "--recursive").stdout
    assert "tree/a.txt" in listing and "tree/sub/b.bin" in listing
    top = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE single/" in top and "PRE tree/" in top
    # A second sync finds nothing to do.
    assert aws("s3", "sync", str(local), f"s3://{bucket}/tree").stdout.strip() == ""
    back = tmp_path / "back"
    aws("s3", "sync", f"s3://{bucket}/tree", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == (local / "sub" / "b.bin").read_bytes()
    aws("s3", "cp", f"s3://{bucket}/single/a.txt", str(tmp_path / "a.copy"))
    assert (tmp_path / "a.copy").read_text() == "alpha"

    put = json.loads(
        aws(
            "s3api", "put-object", "--bucket", bucket, "--key", "api.txt", "--body", str(local / "a.txt")
        ).stdout
    )
    assert put["ETag"].startswith('"')
    got = json.loads(
        aws("s3api", "get-object", "--bucket", bucket, "--key", "api.txt", str(tmp_path / "api.out")).stdout
    )
    assert got["ContentLength"] == 5 and (tmp_path / "api.out").read_text() == "alpha"
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "tree/").stdout)
    assert sorted(c["Key"] for c in listed["Contents"]) == ["tree/a.txt", "tree/sub/b.bin"]
    missing = aws(
        "s3api", "get-object", "--bucket", bucket, "--key", "nope", str(tmp_path / "x"), check=False
    )
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    aws("s3", "rb", f"s3://{bucket}", "--force")
