"""S3 throughput: Cove against moto_server and a do-nothing server in one run, with a raw file copy
as the baseline.

Large objects (default 512 MiB) are PUT and GET through boto3's transfer manager with SSE-S3 and
SSE-KMS, from one process (as ``aws s3 cp`` does); many small objects (default 2,000 x 16 KiB) are
PUT and GET one call each from ``--clients`` processes of ``--threads`` threads (default one
process of 8). The same client code drives three servers: Cove, moto_server, and
bench/s3canned.py, which stores nothing and answers every GET with pre-built bytes under Cove's
uvicorn settings. The last one is the ceiling: what boto3 and the HTTP stack reach on this machine
with no server work at all.

The small-object client is one boto3 process, bound by its own GIL at about 1.4 ms of CPU per
PUT: against the do-nothing server it tops out near 700 PUTs/s, barely more than 2x moto. More
client processes (``--clients 2 --threads 5``: 10 requests in flight, the AWS CLI's default) lift
that ceiling to 1,200-1,400/s, but on a 2-core machine they take CPU from moto's single,
CPU-bound server process, which then drops by 15-20 %: that client would flatter every ratio
against moto, so it is not the default. Whatever the choice, every server gets the same client.

The raw copy is ``shutil.copyfile`` of a same-size file on the same disk as Cove's state, its source
in the page cache as Cove's freshly written blobs are (``warm``), and for reference with the
source's pages dropped first (``cold``). Dirty pages are flushed before each copy so that earlier
writes do not throttle it. For small objects the disk baseline is what a durable small PUT needs of
the disk and nothing more: create a temp file, write 16 KiB, fsync, rename it into a directory,
fsync the directory, from as many threads as the client has requests in flight.

Shared machines are noisy: every figure is the median of ``--repeat`` rounds, the servers taking
turns within each round, and the spread (min-max) is printed next to it.

    .venv/bin/python bench/s3.py [--large-mib 512] [--small 2000] [--clients 1] [--threads 8] [--repeat 3]
    .venv/bin/python bench/s3.py --quick          # 64 MiB, 300 small objects, one round
    .venv/bin/python bench/s3.py --servers cove,ceiling
    .venv/bin/python bench/s3.py --gib-check      # one 1 GiB upload + download, verified, on Cove only
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from api import BIN, cove_credentials, free_port, process

MIB = 1024 * 1024
SMALL_SIZE = 16 * 1024
LARGE_THREADS = 8
TRANSFER = TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB, max_concurrency=8)
ANY_CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SERVERS = ("cove", "moto", "ceiling")


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


def _small_client(
    endpoint: str,
    creds: dict[str, str],
    threads: int,
    bucket: str,
    keys: list[str],
    start: Any,
    done: Any,
) -> None:
    """One client process: PUTs its share of the keys, then GETs them, each phase starting when
    every process is ready, and reports when each phase ended (CLOCK_MONOTONIC, shared by all)."""
    s3 = client(endpoint, creds, threads)
    body = os.urandom(SMALL_SIZE)

    def get(key: str) -> None:
        if len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) != SMALL_SIZE:
            raise SystemExit(f"GET {key} returned the wrong size")

    try:
        with ThreadPoolExecutor(threads) as pool:
            # Connections opened before the clock starts, as a long-lived client has them.
            list(pool.map(lambda _: s3.head_bucket(Bucket=bucket), range(threads)))
            start.wait()
            list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))
            done.put(("put", time.perf_counter(), None))
            start.wait()
            list(pool.map(get, keys))
            done.put(("get", time.perf_counter(), None))
    except BaseException as exc:
        done.put(("error", time.perf_counter(), repr(exc)))
        raise


def bench_small(
    server: Server, bucket: str, prefix: str, count: int, clients: int, threads: int
) -> dict[str, float]:
    keys = [f"small/{prefix}/{i:06d}" for i in range(count)]
    ctx = multiprocessing.get_context("fork")
    start, done = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(
            target=_small_client,
            args=(server.endpoint, server.creds, threads, bucket, keys[i::clients], start, done),
        )
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    out: dict[str, float] = {}
    try:
        for phase in ("put", "get"):
            start.wait(timeout=120)
            began = time.perf_counter()
            ended = []
            for _ in procs:
                kind, when, error = done.get(timeout=600)
                if kind == "error":
                    raise SystemExit(f"small-object client failed against {server.name}: {error}")
                ended.append(when)
            out[f"{phase}_ops"] = count / (max(ended) - began)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return out


@dataclass
class Server:
    name: str
    endpoint: str
    creds: dict[str, str]

    def round(self, args: argparse.Namespace, number: int, src: Path, work: Path) -> dict[str, float]:
        s3 = client(self.endpoint, self.creds, LARGE_THREADS)
        bucket = f"bench-{self.name}"
        if number == 0:
            s3.create_bucket(Bucket=bucket)
        out: dict[str, float] = {}
        for label, extra in (
            ("sse-s3", {"ServerSideEncryption": "AES256"}),
            ("sse-kms", {"ServerSideEncryption": "aws:kms"}),
        ):
            for metric, value in bench_large(s3, bucket, src, work, extra).items():
                out[f"large_{label}_{metric}"] = value
        # New keys every round: each PUT creates an object, as in the first round.
        small = bench_small(self, bucket, f"r{number}", args.small, args.clients, args.threads)
        out.update({f"small_{k}": v for k, v in small.items()})
        return out


def _settle(path: Path, *, drop: bool) -> None:
    """Flush dirty pages (and, with ``drop``, evict ``path`` from the page cache) before a copy."""
    os.sync()
    if drop:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def raw_copy(src: Path, work: Path, *, cold: bool) -> float:
    dst = work / "raw-copy.bin"
    _settle(src, drop=cold)
    seconds = timed(lambda: shutil.copyfile(src, dst))
    dst.unlink()
    return src.stat().st_size / MIB / seconds


def raw_small_writes(work: Path, count: int, threads: int) -> float:
    """Files per second written as a durable small PUT writes them, with no server in the way."""
    tmp, final = work / "raw-small-tmp", work / "raw-small"
    tmp.mkdir()
    final.mkdir()
    body = os.urandom(SMALL_SIZE)

    def one(i: int) -> None:
        fd = os.open(tmp / f"{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp / f"{i}", final / f"{i}")
        dirfd = os.open(final, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)

    with ThreadPoolExecutor(threads) as pool:
        seconds = timed(lambda: list(pool.map(one, range(count))))
    shutil.rmtree(tmp)
    shutil.rmtree(final)
    return count / seconds


@contextmanager
def servers(names: list[str], tmp: Path, env: dict[str, str], large_bytes: int) -> Iterator[list[Server]]:
    started: list[Server] = []
    with ExitStack() as stack:
        for name in names:
            port = free_port()
            endpoint = f"http://127.0.0.1:{port}"
            if name == "cove":
                state = tmp / "cove"
                creds = cove_credentials(state, port)
                argv = [str(BIN / "cove"), "server", "--port", str(port), "--state-dir", str(state)]
                stack.enter_context(process([*argv, "--log-level", "warning"], f"{endpoint}/health", env))
            elif name == "moto":
                moto = shutil.which("moto_server", path=str(BIN)) or shutil.which("moto_server")
                if moto is None:
                    print("moto_server not found: skipped")
                    continue
                creds = ANY_CREDS
                stack.enter_context(process([moto, "-p", str(port)], f"{endpoint}/moto-api/"))
            else:
                creds = ANY_CREDS
                canned = [
                    sys.executable,
                    str(Path(__file__).parent / "s3canned.py"),
                    str(port),
                    str(large_bytes),
                ]
                stack.enter_context(process(canned, f"{endpoint}/"))
            started.append(Server(name, endpoint, creds))
        yield started


def gib_check(tmp: Path, env: dict[str, str]) -> None:
    src = tmp / "gib.bin"
    make_file(src, 1024 * MIB)
    with servers(["cove"], tmp, env, 0) as (cove,):
        s3 = client(cove.endpoint, cove.creds, LARGE_THREADS)
        s3.create_bucket(Bucket="gib-check")
        up = timed(lambda: s3.upload_file(str(src), "gib-check", "gib", Config=TRANSFER))
        dst = tmp / "gib.out"
        down = timed(lambda: s3.download_file("gib-check", "gib", str(dst), Config=TRANSFER))
    same = sha256_file(src) == sha256_file(dst)
    print(f"1 GiB upload {1024 / up:.0f} MB/s, download {1024 / down:.0f} MB/s, identical: {same}")
    if not same:
        raise SystemExit("1 GiB round trip corrupted the data")


def _cell(values: list[float]) -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.1f}"
    return f"{median:.1f} ({min(values):.0f}-{max(values):.0f})"


def report(
    args: argparse.Namespace, results: dict[str, list[dict[str, float]]], raw: dict[str, list[float]]
) -> None:
    med = {
        name: {metric: statistics.median(r[metric] for r in rounds) for metric in rounds[0]}
        for name, rounds in results.items()
    }
    warm = statistics.median(raw["warm"])
    small = statistics.median(raw["small"])
    print(
        f"large object {args.large_mib} MiB, small objects {args.small} x 16 KiB from {args.clients} "
        f"process(es) x {args.threads} threads, "
        f"median of {args.repeat} round(s) (min-max)"
    )
    print(
        f"raw copy (shutil.copyfile, same disk): warm source {_cell(raw['warm'])} MB/s, "
        f"cold source {_cell(raw['cold'])} MB/s"
    )
    print(f"raw small-file writes (same disk, 16 KiB, fsync, rename, fsync dir): {_cell(raw['small'])}/s")
    names = list(results)
    header = f"{'metric':24}" + "".join(f"{n:>22}" for n in names)
    others = [n for n in ("moto", "ceiling") if n in med and "cove" in med]
    header += "".join(f"{'cove/' + n:>13}" for n in others) + f"{'cove/raw':>10}{'ceil/raw':>10}"
    print(header)
    for metric in med[names[0]]:
        line = f"{metric:24}" + "".join(f"{_cell([r[metric] for r in results[n]]):>22}" for n in names)
        line += "".join(f"{med['cove'][metric] / med[n][metric]:13.2f}" for n in others)
        # Large objects against the raw copy, small PUTs against the raw small-file writes.
        base = warm if metric.startswith("large") else small if metric == "small_put_ops" else None
        if base is not None:
            for n in ("cove", "ceiling"):
                line += f"{med[n][metric] / base:10.2f}" if n in med else f"{'-':>10}"
        print(line)
    if "cove" in med and "moto" in med:
        get, moto = med["cove"]["large_sse-s3_get_mbs"], med["moto"]
        print(
            f"targets: large GET >= 60% of raw copy: {get / warm:.0%}; "
            f">= 2x moto: {get / moto['large_sse-s3_get_mbs']:.2f}x; "
            f"small PUT >= 3x moto: {med['cove']['small_put_ops'] / moto['small_put_ops']:.2f}x"
        )
    if "ceiling" in med:
        ceiling = med["ceiling"]
        line = (
            f"ceiling (no server work): large GET {ceiling['large_sse-s3_get_mbs']:.0f} MB/s = "
            f"{ceiling['large_sse-s3_get_mbs'] / warm:.0%} of raw copy; small PUT {ceiling['small_put_ops']:.0f}/s"
        )
        if "moto" in med:
            line += f" = {ceiling['small_put_ops'] / med['moto']['small_put_ops']:.2f}x moto"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=1, help="client processes for small objects")
    parser.add_argument("--threads", type=int, default=8, help="threads per small-object client")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--quick", action="store_true", help="64 MiB, 300 small objects, one round")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated: cove,moto,ceiling")
    parser.add_argument("--gib-check", action="store_true")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where state and files go (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.quick:
        args.large_mib, args.small, args.repeat = 64, 300, 1
    names = [n for n in args.servers.split(",") if n]
    if unknown := set(names) - set(SERVERS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        tmp = Path(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {"AWS_CONFIG_FILE": f"{tmp}/cfg", "AWS_SHARED_CREDENTIALS_FILE": f"{tmp}/creds"}
        if args.gib_check:
            gib_check(tmp, env)
            return
        src = tmp / "large.bin"
        make_file(src, args.large_mib * MIB)
        raw: dict[str, list[float]] = {"warm": [], "cold": [], "small": []}
        results: dict[str, list[dict[str, float]]] = {}
        with servers(names, tmp, env, src.stat().st_size) as running:
            for number in range(args.repeat):
                raw["warm"].append(raw_copy(src, tmp, cold=False))
                raw["cold"].append(raw_copy(src, tmp, cold=True))
                raw["small"].append(raw_small_writes(tmp, args.small, args.clients * args.threads))
                for server in running:
                    results.setdefault(server.name, []).append(server.round(args, number, src, tmp))
    report(args, results, raw)


if __name__ == "__main__":
    main()
