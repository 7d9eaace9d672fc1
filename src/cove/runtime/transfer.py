"""The data agent: moves a job's data between S3 and /opt/ml from inside the job's instance.

Run as ``python -m cove.runtime.transfer <plan.json>`` (download, then upload) or
``python -m cove.runtime.transfer --watch <plan.json>`` (upload changes every ``interval`` seconds
until ``stop_file`` exists, then a final pass). It runs in the instance's network namespace so its S3
traffic takes the VPC's path (endpoint, NAT or nothing). boto3 finds the credentials in the
environment (AWS_CONTAINER_CREDENTIALS_FULL_URI, or keys) and S3 at AWS_ENDPOINT_URL_S3; connects
time out after 3 s with one retry, so a VPC with no path to S3 fails in seconds.

Plan (JSON)::

    {
      "result": "/path/result.json",          # written at the end (see below)
      "region": "us-east-1",                   # default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1
      "role_arn": "arn:aws:iam::…:role/…",     # only quoted in error messages
      "workers": 8,                            # parallel transfers
      "scratch_dir": "/…/volume",              # where archives are built (default: $TMPDIR)
      "download": {
        "channels": [{
          "name": "train", "s3_uri": "s3://b/data/train", "local_dir": "/…/opt_ml/input/data/train",
          "s3_data_type": "S3Prefix",          # or "ManifestFile" (AugmentedManifestFile: refused)
          "distribution": "FullyReplicated",   # or "ShardedByS3Key"
          "host_index": 0, "host_count": 1,    # 0-based: algo-1 is 0
          "mode": "File",                      # "FastFile" is served as a File copy
          "compression": "None"                # "Gzip": each object is gunzipped under its own name
        }],
        "checkpoint": {"s3_uri": "s3://b/ckpt", "local_dir": "/…/opt_ml/checkpoints"}
      },
      "upload": [                              # or {"kms_key_id": "…", "items": [...]}
        {"kind": "archive", "sources": ["/…/algo-1/opt_ml/model", "/…/algo-2/opt_ml/model"],
         "s3_uri": "s3://b/out/job/output/model.tar.gz", "kms_key_id": "…"},
        {"kind": "tree", "sources": ["/…/opt_ml/processing/output"], "s3_uri": "s3://b/out/x",
         "delete": false}                      # delete: watch mode removes objects of deleted files
      ],
      "watch": {"stop_file": "/…/stop", "interval": 1.0}
    }

Placement: an S3Prefix channel's key is written under ``local_dir`` by SageMaker's rule (prefix ending
in ``/`` or followed by ``/`` in the key: stripped whole; otherwise the key keeps its basename); a
manifest's keys are placed relative to its ``prefix``; ShardedByS3Key deals the sorted keys round-robin
(host i of n gets keys[i::n]). ``transferplan.training_outputs`` builds the upload items for
``<S3OutputPath>/<job>/output/model.tar.gz`` (or ``…/output/model/`` with CompressionType NONE) and
``…/output/output.tar.gz``.

Result: ``{"ok": true, "objects": n, "bytes": n, "seconds": s}`` or ``{"ok": false, "reason":
"<SageMaker FailureReason>", "detail": "<the underlying error>"}``; exit status 0 or 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from s3transfer.manager import TransferConfig, TransferManager  # type: ignore[import-untyped]

from cove.runtime.downloads import download_all, pipe_objects
from cove.runtime.pipes import serve_pipes
from cove.runtime.s3failures import TransferFailure
from cove.runtime.transferplan import Plan, PlanError, Unsupported, load_plan
from cove.runtime.uploads import Uploader

__all__ = ["PHASE_DONE", "ClientFactory", "main", "run_plan", "s3_client", "s3_config", "transfer_manager"]

PHASE_DONE = "cove-agent: phase done"
"""The line an agent run with --then prints once its first plan has succeeded."""

ClientFactory = Callable[[Plan], Any]
"""Makes the S3 client the agent uses for a plan (the agent zygote passes one that hands out a
client built before the fork, cove.runtime.s3clients; by default a new boto3 Session's)."""

_INTERNAL = "InternalServerError: We encountered an internal error. Please try again."


def s3_config(plan: Plan) -> Config:
    return Config(
        region_name=plan.region,
        connect_timeout=3,
        read_timeout=60,
        retries={"total_max_attempts": 2, "mode": "standard"},
        max_pool_connections=plan.workers * 2,
        # Path style works with any endpoint name or address the VPC resolves S3 to.
        s3={"addressing_style": "path"},
    )


def s3_client(plan: Plan, client_factory: ClientFactory | None = None) -> Any:
    if client_factory is not None:
        return client_factory(plan)
    return boto3.session.Session().client("s3", config=s3_config(plan))


def transfer_manager(client: Any, plan: Plan) -> TransferManager:
    config = TransferConfig(
        multipart_threshold=16 << 20,
        multipart_chunksize=16 << 20,
        max_request_concurrency=plan.workers,
        max_submission_concurrency=plan.workers,
        num_download_attempts=2,
    )
    return TransferManager(client, config)


def run_plan(
    plan: Plan, watch: bool = False, log: Any = print, client_factory: ClientFactory | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    client = s3_client(plan, client_factory)
    manager = transfer_manager(client, plan)
    failed = False
    try:
        objects = size = 0
        if plan.channels or plan.checkpoint:
            fetched = download_all(client, manager, plan, log)
            objects, size = fetched.objects, fetched.bytes
        uploader = Uploader(client, manager, plan)
        pipes = [c for c in plan.channels if c.mode == "Pipe"]
        if watch and pipes:
            stop_file = Path(plan.stop_file) if plan.stop_file else None
            served = serve_pipes(client, [(c, pipe_objects(client, plan, c)) for c in pipes], stop_file, log)
            failure = next((p.error for p in served if p.error is not None), None)
            if failure is not None:
                raise failure
            log("pipes: " + ", ".join(f"{p.channel.name} {p.epochs} epochs" for p in served))
        elif watch:
            stop = Path(plan.stop_file) if plan.stop_file else None
            while stop is None or not stop.exists():
                uploader.run(final=False)
                time.sleep(plan.interval)
        if plan.uploads:
            sent = uploader.run(final=True)
            objects, size = objects + sent.objects, size + sent.bytes
            log(f"uploaded {sent.objects} objects, {sent.bytes} bytes")
        return {
            "ok": True,
            "objects": objects,
            "bytes": size,
            "seconds": round(time.monotonic() - started, 3),
        }
    except BaseException:
        failed = True
        raise
    finally:
        manager.shutdown(cancel=failed)


def _write_result(path: str, result: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(result))
    os.replace(partial, target)


def _run(path: str, watch: bool, client_factory: ClientFactory | None) -> dict[str, Any]:
    """Run the plan at `path` and write its result; the result."""
    result_path = str(Path(path).with_name("result.json"))
    try:
        raw = json.loads(Path(path).read_text())
        result_path = str(raw.get("result") or result_path)
        result = run_plan(load_plan(path), watch=watch, client_factory=client_factory)
    except TransferFailure as exc:
        result = {"ok": False, "reason": exc.reason, "detail": exc.detail}
    except Unsupported as exc:
        result = {"ok": False, "reason": f"ClientError: {exc}", "detail": "plan"}
    except PlanError as exc:
        result = {"ok": False, "reason": _INTERNAL, "detail": f"plan: {exc}"}
    except Exception as exc:  # the job must get a FailureReason whatever broke
        result = {"ok": False, "reason": _INTERNAL, "detail": f"{type(exc).__name__}: {exc}"}
    _write_result(result_path, result)
    if not result["ok"]:
        print(f"{result['reason']}\n{result.get('detail', '')}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None, client_factory: ClientFactory | None = None) -> int:
    """``[--watch] <plan>``, or ``--then <next plan> <plan>``: after the plan has succeeded, print
    PHASE_DONE and wait for SIGUSR1, then run the next plan (which the server may write only then)
    with the same S3 client; SIGTERM ends the agent instead. One agent per instance then moves a
    job's data in and out: the second fork, its client and its namespaces cost as much CPU as a
    small channel's transfer."""
    args = list(sys.argv[1:] if argv is None else argv)
    watch = "--watch" in args
    then: str | None = None
    if "--then" in args and args.index("--then") + 1 < len(args):
        at = args.index("--then")
        then = args.pop(at + 1)
        args.pop(at)
    paths = [a for a in args if a != "--watch"]
    if len(paths) != 1 or (then is not None and watch):
        print(
            "usage: python -m cove.runtime.transfer [--watch | --then <next plan>] <plan.json>",
            file=sys.stderr,
        )
        return 2
    if then is None:
        return 0 if _run(paths[0], watch, client_factory)["ok"] else 1
    # Blocked from the start: a go that comes early waits, it does not end the agent.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    made: dict[tuple[str, int], Any] = {}

    def reused(plan: Plan) -> Any:
        key = (plan.region, plan.workers)
        if key not in made:
            made[key] = s3_client(plan, client_factory)
        return made[key]

    if not _run(paths[0], False, reused)["ok"]:
        return 1
    print(PHASE_DONE, flush=True)
    signal.sigwait({signal.SIGUSR1})
    return 0 if _run(then, False, reused)["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
