"""SageMaker ARNs: the resource name lower-cased, as AWS writes it."""

from __future__ import annotations

__all__ = ["KIND_RESOURCE", "job_arn", "parse_arn"]

# The ARN resource type of each job kind.
KIND_RESOURCE = {"training": "training-job", "processing": "processing-job"}


def job_arn(kind: str, region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{KIND_RESOURCE[kind]}/{name.lower()}"


def parse_arn(arn: str) -> tuple[str, str, str, str] | None:
    """``(region, account, resource type, resource name)`` of a SageMaker ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sagemaker" or "/" not in parts[5]:
        return None
    kind, _, name = parts[5].partition("/")
    if not kind or not name:
        return None
    return parts[3], parts[4], kind, name
