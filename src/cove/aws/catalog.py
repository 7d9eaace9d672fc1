"""The services Cove answers for, and their botocore models (loaded once)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.model import ServiceModel

__all__ = ["SERVICES", "ServiceInfo", "service_info", "service_model", "services_for_signing_name"]


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str  # botocore's service name, as in boto3.client(name)
    iam_prefix: str  # the action prefix IAM policies use


SERVICES: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo("sts", "sts"),
        ServiceInfo("iam", "iam"),
        ServiceInfo("s3", "s3"),
        ServiceInfo("kms", "kms"),
        ServiceInfo("ec2", "ec2"),
        ServiceInfo("sagemaker", "sagemaker"),
        ServiceInfo("sagemaker-runtime", "sagemaker"),
        ServiceInfo("sagemaker-metrics", "sagemaker"),
        ServiceInfo("logs", "logs"),
        ServiceInfo("cloudwatch", "cloudwatch"),
        ServiceInfo("application-autoscaling", "application-autoscaling"),
        ServiceInfo("cloudtrail", "cloudtrail"),
    )
}


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> ServiceModel:
    model: ServiceModel = _session().get_service_model(name)
    return model


def service_info(name: str) -> ServiceInfo:
    return SERVICES[name]


@cache
def services_for_signing_name(signing_name: str) -> tuple[str, ...]:
    """Every known service that signs with ``signing_name`` (SageMaker's API, Runtime and Metrics
    all sign as ``sagemaker``; CloudWatch signs as ``monitoring``)."""
    return tuple(name for name in SERVICES if service_model(name).signing_name == signing_name)
