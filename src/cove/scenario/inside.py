"""Run boto3 inside an ENI's namespace, as a job would: root without CAP_NET_ADMIN, with only the
VPC's paths to Cove's services."""

from __future__ import annotations

import json
import subprocess
import sys

from cove.fabric import netns

__all__ = ["S3_PUBLIC_ADDRESS", "s3_get_inside"]

S3_PUBLIC_ADDRESS = "198.18.16.10"
"""Where s3.us-east-1.amazonaws.com points in Cove's simulated AWS public space."""

_SCRIPT = r"""
import json, sys
import boto3
from botocore.config import Config
a = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url="http://" + a["address"], region_name="us-east-1",
                  aws_access_key_id=a["key"], aws_secret_access_key=a["secret"],
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=1.5, read_timeout=5,
                                retries={"max_attempts": 1}))
try:
    print(json.dumps({"ok": s3.get_object(Bucket=a["bucket"], Key=a["key_name"])["Body"].read().decode()}))
except s3.exceptions.ClientError as exc:
    print(json.dumps({"error": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def s3_get_inside(namespace: str, credentials: tuple[str, str], bucket: str, key: str) -> dict[str, str]:
    """GetObject from inside the namespace: {"ok": body} or {"error": code, "message": text}."""
    args = {
        "address": S3_PUBLIC_ADDRESS,
        "key": credentials[0],
        "secret": credentials[1],
        "bucket": bucket,
        "key_name": key,
    }
    done = subprocess.run(
        netns.unprivileged(namespace, [sys.executable, "-c", _SCRIPT, json.dumps(args)]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        return {"error": "ClientFailed", "message": done.stderr.strip()[-300:]}
    result: dict[str, str] = json.loads(done.stdout)
    return result
