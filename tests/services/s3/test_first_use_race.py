"""The AWS managed key alias/aws/s3 is created on first use; concurrent first uses must agree."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client


def test_concurrent_first_sse_kms_uploads_share_one_key(tmp_path: Path) -> None:
    with EmbeddedServer(Settings(state_dir=tmp_path / "state", port=free_port())) as server:
        s3 = make_client(server, "s3")
        s3.create_bucket(Bucket="race-first-use")

        def put(i: int) -> str:
            out = s3.put_object(
                Bucket="race-first-use", Key=f"k{i}", Body=b"x" * 100, ServerSideEncryption="aws:kms"
            )
            return str(out["SSEKMSKeyId"])

        with ThreadPoolExecutor(8) as pool:
            keys = set(pool.map(put, range(16)))
        assert len(keys) == 1
        aliases = make_client(server, "kms").list_aliases()["Aliases"]
        assert [a["AliasName"] for a in aliases if a["AliasName"] == "alias/aws/s3"] == ["alias/aws/s3"]
        assert s3.get_object(Bucket="race-first-use", Key="k3")["Body"].read() == b"x" * 100
