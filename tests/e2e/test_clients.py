"""Unchanged boto3 and AWS CLI code, pointed at Cove only by `eval "$(cove env)"`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from tests.conftest import ClientFactory, make_client

BIN = Path(sys.executable).parent


def _cove_env(server: EmbeddedServer) -> dict[str, str]:
    """Run `cove env` and evaluate its exports in a shell, exactly as the README says."""
    settings = server.cove.settings
    script = f'eval "$({BIN}/cove env --state-dir {settings.state_dir} --port {settings.port})" && env'
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, env=_base_env()
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if line.startswith("AWS_"))


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.environ["AWS_CONFIG_FILE"]
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"]
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


PROBE = textwrap.dedent(
    """
    import json, boto3
    from botocore.exceptions import ClientError
    calls = {
        "sts": lambda c: c.get_caller_identity(),
        "iam": lambda c: c.list_roles(),
        "s3": lambda c: c.list_buckets(),
        "kms": lambda c: c.list_keys(),
        "ec2": lambda c: c.describe_vpcs(),
        "sagemaker": lambda c: c.list_training_jobs(),
        "sagemaker-runtime": lambda c: c.invoke_endpoint(EndpointName="ep", Body=b"1"),
        "logs": lambda c: c.describe_log_groups(),
        "cloudwatch": lambda c: c.list_metrics(),
        "application-autoscaling": lambda c: c.describe_scalable_targets(ServiceNamespace="sagemaker"),
    }
    out = {}
    for name, call in calls.items():
        try:
            call(boto3.client(name))
            out[name] = ["ok", 200, ""]
        except ClientError as e:
            out[name] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"]]
    print(json.dumps(out))
    """
)


def test_every_client_reaches_cove_from_environment_alone(cove_server: EmbeddedServer) -> None:
    env = _base_env() | _cove_env(cove_server)
    assert env["AWS_ENDPOINT_URL"] == cove_server.endpoint_url
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["sts"][0] == "ok" and results["iam"][0] == "ok" and results["ec2"][0] == "ok"
    assert results["s3"][0] == "ok" and results["kms"][0] == "ok" and results["logs"][0] == "ok"
    assert results["cloudwatch"][0] == "ok" and results["sagemaker"][0] == "ok"
    operations = {
        "sagemaker-runtime": "InvokeEndpoint",
        "application-autoscaling": "DescribeScalableTargets",
    }
    for service, operation in operations.items():
        code, status, message = results[service]
        assert code == "NotImplemented", (service, results[service])
        assert status == 501, (service, results[service])
        assert operation in message and "does not implement" in message, (service, message)


def test_aws_cli(cove_server: EmbeddedServer, tmp_path: Path) -> None:
    env = _base_env() | _cove_env(cove_server)

    def aws(*args: str) -> dict[str, object]:
        proc = subprocess.run(
            [str(BIN / "aws"), *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        result: dict[str, object] = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return result

    me = aws("sts", "get-caller-identity")
    assert me["Account"] == cove_server.cove.account.account_id
    trust = tmp_path / "trust.json"
    trust.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
    )
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = aws(
        "iam", "create-role", "--role-name", name, "--assume-role-policy-document", f"file://{trust}"
    )
    role = created["Role"]
    assert isinstance(role, dict) and role["RoleName"] == name
    fetched = aws("iam", "get-role", "--role-name", name)["Role"]
    assert isinstance(fetched, dict)
    assert (
        fetched["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
        == "sagemaker.amazonaws.com"
    )
    proc = subprocess.run(
        [str(BIN / "aws"), "iam", "get-role", "--role-name", "nope-" + name],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0 and "NoSuchEntity" in proc.stderr


@pytest.mark.parametrize("service", ["lambda", "sqs", "dynamodb"])
def test_unknown_service_is_named(cove_server: EmbeddedServer, service: str) -> None:
    c = make_client(cove_server, service)
    call = {
        "lambda": lambda: c.list_functions(),
        "sqs": lambda: c.list_queues(),
        "dynamodb": lambda: c.list_tables(),
    }[service]
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "UnknownService"
    assert "does not provide the service" in exc.value.response["Error"]["Message"]


def test_validation_errors_per_protocol(cove_server: EmbeddedServer) -> None:
    # Client-side validation off, so the server's own validation answers.
    loose = Config(parameter_validation=False, retries={"max_attempts": 1})
    account = cove_server.cove.account

    def client(name: str) -> Any:
        session = boto3.Session(account.access_key_id, account.secret_access_key, region_name="us-east-1")
        return session.client(name, endpoint_url=cove_server.endpoint_url, config=loose)  # type: ignore[call-overload]

    cases = [
        # query (IAM)
        (
            lambda: client("iam").create_role(RoleName="bad name!", AssumeRolePolicyDocument="{}"),
            "ValidationError",
            400,
            "regular expression pattern",
        ),
        # json (SageMaker): validated even though the operation is not implemented yet
        (
            lambda: client("sagemaker").describe_training_job(TrainingJobName="x" * 70),
            "ValidationException",
            400,
            "length less than or equal to 63",
        ),
        # json (KMS): a required member missing
        (lambda: client("kms").encrypt(Plaintext=b"x"), "ValidationException", 400, "must not be null"),
        # ec2
        (lambda: client("ec2").create_subnet(CidrBlock="10.0.0.0/24"), "MissingParameter", 400, "VpcId"),
        # rest-json (SageMaker Runtime)
        (
            lambda: client("sagemaker-runtime").invoke_endpoint(EndpointName="bad name", Body=b"x"),
            "ValidationException",
            400,
            "endpointName",
        ),
        # smithy-rpc-v2-cbor (CloudWatch)
        (lambda: client("cloudwatch").put_metric_data(MetricData=[]), None, 400, "validation error"),
        # rest-xml (S3)
        (lambda: client("s3").put_bucket_policy(Bucket="b"), None, 400, "Policy"),
    ]
    for call, code, status, fragment in cases:
        with pytest.raises(ClientError) as exc:
            call()
        err = exc.value.response["Error"]
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, err
        if code:
            assert err["Code"] == code, err
        assert fragment.lower() in err["Message"].lower(), err


def test_health(cove_server: EmbeddedServer) -> None:
    body = httpx.get(cove_server.endpoint_url + "/health").json()
    assert body["status"] == "ok" and body["services"]["iam"] > 10


def test_profile_is_written(cove_server: EmbeddedServer, client: ClientFactory, tmp_path: Path) -> None:
    from cove.profile import write_profile

    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "c"), "AWS_CONFIG_FILE": str(tmp_path / "cfg")}
    old = {k: os.environ[k] for k in env}
    os.environ.update(env)
    try:
        write_profile(cove_server.cove.settings, cove_server.cove.account)
    finally:
        os.environ.update(old)
    proc = subprocess.run(
        [str(BIN / "aws"), "sts", "get-caller-identity", "--profile", "cove", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in _base_env().items()} | env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Account"] == cove_server.cove.account.account_id
