"""SageMaker's errors, with the codes and messages AWS returns.

SageMaker reports most unknown resources as a ``ValidationException`` ("Requested resource not
found."), not as the modelled ``ResourceNotFound``; the SDK's waiters and retries depend on that.
"""

from __future__ import annotations

from typing import Literal

from cove.aws.errors import ServiceError, ValidationException

__all__ = [
    "NOT_FOUND",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceNotFound",
    "ValidationException",
    "already_exists",
    "not_found",
    "not_stoppable",
]

NOT_FOUND = "Requested resource not found."

JobKind = Literal["training", "processing"]


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


def not_found() -> ValidationException:
    return ValidationException(NOT_FOUND)


def already_exists(kind: JobKind, arn: str) -> ResourceInUse:
    if kind == "training":
        return ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a training job "
            f"with this name already exists ({arn})"
        )
    return ResourceInUse(
        f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})"
    )


def not_stoppable(kind: JobKind, status: str) -> ValidationException:
    return ValidationException(f"The request was rejected because the {kind} job is in status {status}.")
