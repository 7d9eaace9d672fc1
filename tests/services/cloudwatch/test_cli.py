"""The AWS CLI against Cove's CloudWatch metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cove.server import EmbeddedServer

BIN = Path(sys.executable).parent


def test_aws_cloudwatch_cli(cove_server: EmbeddedServer, namespace: str, base: datetime) -> None:
    account = cove_server.cove.account
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
        AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        AWS_ACCESS_KEY_ID=account.access_key_id,
        AWS_SECRET_ACCESS_KEY=account.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=cove_server.endpoint_url,
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )

    def aws(*args: str, check: bool = True) -> Any:
        proc = subprocess.run(
            [str(BIN / "aws"), "cloudwatch", *args, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if not check:
            return proc
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    at = base.strftime("%Y-%m-%dT%H:%M:%SZ")
    for value in ("1", "2", "6"):
        aws(
            "put-metric-data",
            "--namespace", namespace,
            "--metric-name", "Latency",
            "--unit", "Milliseconds",
            "--value", value,
            "--dimensions", "Host=algo-1,Job=j1",
            "--timestamp", at,
        )  # fmt: skip
    got = aws(
        "get-metric-statistics",
        "--namespace", namespace,
        "--metric-name", "Latency",
        "--dimensions", "Name=Host,Value=algo-1", "Name=Job,Value=j1",
        "--start-time", at,
        "--end-time", (base + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--period", "60",
        "--statistics", "Average", "Maximum",
    )  # fmt: skip
    assert got["Label"] == "Latency"
    [point] = got["Datapoints"]
    assert (point["Average"], point["Maximum"], point["Unit"]) == (3.0, 6.0, "Milliseconds")
    listed = aws("list-metrics", "--namespace", namespace)["Metrics"]
    assert [m["MetricName"] for m in listed] == ["Latency"]
    refused = aws(
        "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "x", "--value", "1", check=False
    )
    assert refused.returncode != 0 and "InvalidParameterValue" in refused.stderr
