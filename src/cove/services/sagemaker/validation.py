"""The checks SageMaker makes on a Create request beyond what the API model constrains.

The wire layer has already enforced the model (required members, enums, lengths, patterns);
these are the rules that live in the service: the execution role must exist, URIs must name S3
objects, processing paths must lie under /opt/ml/processing/, names must be unique, and a job
in a VPC must pass the VPC pre-flight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from cove.services.iam.roles import find_role_by_arn
from cove.services.sagemaker.errors import ValidationException
from cove.services.sagemaker.preflight import JobKind, vpc_preflight

__all__ = [
    "PROCESSING_PREFIX",
    "check_role",
    "check_s3_uri",
    "check_unique",
    "constraint",
    "preflight_warnings",
]

PROCESSING_PREFIX = "/opt/ml/processing/"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def constraint(path: str, value: Any, rule: str) -> ValidationException:
    """A refusal worded as AWS words its field validation."""
    shown = "null" if value is None else f"'{value}'"
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: {rule}"
    )


def check_role(session: Session, role_arn: str) -> None:
    if find_role_by_arn(session, role_arn) is None:
        raise ValidationException(
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )


def check_s3_uri(path: str, uri: str) -> None:
    """SageMaker reads and writes job data through S3 only: ``s3://bucket[/key]``."""
    scheme, sep, rest = uri.partition("://")
    bucket = rest.split("/", 1)[0]
    if scheme != "s3" or not sep or not _BUCKET.match(bucket):
        raise constraint(path, uri, "Member must be an S3 URI of the form s3://bucket/key")


def check_unique(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValidationException(f"{what} must be unique; '{value}' is given more than once.")
        seen.add(value)


def preflight_warnings(
    session: Session,
    *,
    account_id: str,
    region: str,
    vpc_config: dict[str, Any] | None,
    instance_type: str,
    instance_count: int,
    job: JobKind,
) -> list[dict[str, str]]:
    """Run the VPC pre-flight: its errors refuse the request, its warnings are kept on the job."""
    if not vpc_config:
        return []
    result = vpc_preflight(
        session,
        account_id=account_id,
        region=region,
        subnets=list(vpc_config.get("Subnets") or []),
        security_group_ids=list(vpc_config.get("SecurityGroupIds") or []),
        instance_type=instance_type,
        instance_count=instance_count,
        job=job,
    )
    result.raise_for_errors()
    return [{"Code": f.code, "Message": f.message} for f in result.warnings]
