"""S3 throughput: Cove against moto_server in one run, with a raw file copy as the baseline.

Large objects (default 512 MiB) are PUT and GET through boto3's transfer manager with SSE-S3 and
SSE-KMS; many small objects (default 2,000 x 16 KiB) are PUT and GET one call each from a few
threads. The raw copy is ``shutil.copyfile`` of a same-size file on the same disk as Cove's state.

    .venv/bin/python bench/s3.py [--large-mib 512] [--small 2000] [--threads 8]
    .venv/bin/python bench/s3.py --gib-check   # one 1 GiB upload + download, verified, on Cove only
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from api import BIN, cove_credentials, free_port, process

MIB = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB, max_concurrency=8)


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as fh:
        written = 0
        while written < size:
            n = min(MIB, size - written)
            fh.write(block[:n])
            written += n
            block = block[1:] + block[:1]


def client(endpoint: str, creds: dict[str, str], threads: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=max(10, threads * 2)),
        **creds,
    )


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def bench_large(s3: Any, bucket: str, src: Path, work: Path, extra: dict[str, str]) -> dict[str, float]:
    size = src.stat().st_size
    key = f"large-{extra.get('ServerSideEncryption', 'default')}"
    put_s = timed(lambda: s3.upload_file(str(src), bucket, key, ExtraArgs=extra or None, Config=TRANSFER))
    dst = work / f"{key}.out"
    get_s = timed(lambda: s3.download_file(bucket, key, str(dst), Config=TRANSFER))
    if dst.stat().st_size != size:
        raise SystemExit(f"download of {key} has the wrong size")
    dst.unlink()
    return {"put_mbs": size / MIB / put_s, "get_mbs": size / MIB / get_s}


def bench_small(s3: Any, bucket: str, count: int, threads: int) -> dict[str, float]:
    body = os.urandom(16 * 1024)
    keys = [f"small/{i:06d}" for i in range(count)]
    with ThreadPoolExecutor(threads) as pool:
        put_s = timed(lambda: list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys)))
        get_s = timed(
            lambda: list(pool.map(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys))
        )
    return {"put_ops": count / put_s, "get_ops": count / get_s}


def run_server(
    name: str, endpoint: str, creds: dict[str, str], args: argparse.Namespace, src: Path, work: Path
) -> dict[str, float]:
    s3 = client(endpoint, creds, args.threads)
    bucket = f"bench-{name}"
    s3.create_bucket(Bucket=bucket)
    out: dict[str, float] = {}
    for label, extra in (
        ("sse-s3", {"ServerSideEncryption": "AES256"}),
        ("sse-kms", {"ServerSideEncryption": "aws:kms"}),
    ):
        for metric, value in bench_large(s3, bucket, src, work, extra).items():
            out[f"large_{label}_{metric}"] = value
    out.update({f"small_{k}": v for k, v in bench_small(s3, bucket, args.small, args.threads).items()})
    return out


def raw_copy(src: Path, work: Path) -> float:
    dst = work / "raw-copy.bin"
    seconds = timed(lambda: shutil.copyfile(src, dst))
    dst.unlink()
    return src.stat().st_size / MIB / seconds


def gib_check(tmp: Path, endpoint: str, creds: dict[str, str]) -> None:
    src = tmp / "gib.bin"
    make_file(src, 1024 * MIB)
    s3 = client(endpoint, creds, 8)
    s3.create_bucket(Bucket="gib-check")
    up = timed(lambda: s3.upload_file(str(src), "gib-check", "gib", Config=TRANSFER))
    dst = tmp / "gib.out"
    down = timed(lambda: s3.download_file("gib-check", "gib", str(dst), Config=TRANSFER))
    same = sha256_file(src) == sha256_file(dst)
    print(f"1 GiB upload {1024 / up:.0f} MB/s, download {1024 / down:.0f} MB/s, identical: {same}")
    if not same:
        raise SystemExit("1 GiB round trip corrupted the data")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--gib-check", action="store_true")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where state and files go (default: a temp dir)"
    )
    args = parser.parse_args()
    moto = shutil.which("moto_server", path=str(BIN)) or shutil.which("moto_server")
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        tmp = Path(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {"AWS_CONFIG_FILE": f"{tmp}/cfg", "AWS_SHARED_CREDENTIALS_FILE": f"{tmp}/creds"}
        port = free_port()
        state = tmp / "cove"
        creds = cove_credentials(state, port)
        argv = [
            str(BIN / "cove"),
            "server",
            "--port",
            str(port),
            "--state-dir",
            str(state),
            "--log-level",
            "warning",
        ]
        endpoint = f"http://127.0.0.1:{port}"
        if args.gib_check:
            with process(argv, f"{endpoint}/health", env):
                gib_check(tmp, endpoint, creds)
            return
        src = tmp / "large.bin"
        make_file(src, args.large_mib * MIB)
        results: dict[str, dict[str, float]] = {}
        baseline = raw_copy(src, tmp)
        with process(argv, f"{endpoint}/health", env):
            results["cove"] = run_server("cove", endpoint, creds, args, src, tmp)
        if moto is not None:
            mport = free_port()
            with process([moto, "-p", str(mport)], f"http://127.0.0.1:{mport}/moto-api/"):
                results["moto"] = run_server(
                    "moto",
                    f"http://127.0.0.1:{mport}",
                    {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
                    args,
                    src,
                    tmp,
                )
    print(f"large object {args.large_mib} MiB, small objects {args.small} x 16 KiB, {args.threads} threads")
    print(f"raw copy (shutil.copyfile, same disk): {baseline:.0f} MB/s")
    print(f"{'metric':30} {'cove':>10} {'moto':>10} {'cove/moto':>10} {'cove/raw':>9}")
    for metric, value in results["cove"].items():
        other = results.get("moto", {}).get(metric)
        ratio = f"{value / other:10.2f}" if other else f"{'-':>10}"
        vs_raw = f"{value / baseline:9.2f}" if metric.startswith("large") else f"{'':9}"
        print(f"{metric:30} {value:10.1f} {other or 0:10.1f} {ratio} {vs_raw}")
    get = results["cove"]["large_sse-s3_get_mbs"]
    print(
        f"targets: large GET >= 60% of raw copy: {get / baseline:.0%}; "
        f">= 2x moto: {get / results['moto']['large_sse-s3_get_mbs']:.1f}x; "
        f"small PUT >= 3x moto: {results['cove']['small_put_ops'] / results['moto']['small_put_ops']:.1f}x"
        if "moto" in results
        else ""
    )


if __name__ == "__main__":
    main()
