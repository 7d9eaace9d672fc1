"""The environment of a job's algorithm container, as SageMaker sets it, plus what the VPC gives.

SageMaker sets only a few variables itself (`TRAINING_JOB_NAME`, `TRAINING_JOB_ARN` and the
request's `Environment`); the toolkits compute the `SM_*` ones inside the container. Cove adds the
region, the credentials endpoint of the instance's ENI (boto3 finds the execution role's
credentials there with no configuration) and where S3 is inside the VPC.
"""

from __future__ import annotations

from typing import Any

from cove.services.sagemaker.lifecycle import JobRow

__all__ = ["instance_env"]

_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def instance_env(
    *,
    kind: str,
    job: JobRow,
    image_env: dict[str, str],
    region: str,
    credentials_uri: str,
    ca_bundle: str | None,
    isolated: bool,
) -> dict[str, str]:
    env: dict[str, str] = {"PATH": _BASE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "TRUE"}
    env |= image_env
    if not isolated:
        s3 = f"http://s3.{region}.amazonaws.com"
        env |= {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_uri,
            "AWS_ENDPOINT_URL_S3": s3,
            "S3_ENDPOINT_URL": s3,
        }
        if ca_bundle:
            env["AWS_CA_BUNDLE"] = ca_bundle
    if kind == "training":
        env |= {"TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn}
    request: dict[str, Any] = job.request
    env |= {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
    return env
