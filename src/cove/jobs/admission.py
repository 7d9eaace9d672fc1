"""What CreateTrainingJob/CreateProcessingJob can only learn from the runtime: is the image there,
and can the requested instances ever run on this host?

AWS refuses a request over the account's instance quota with ResourceLimitExceeded and its
service-quota wording; on Cove the host is the quota, so the message says what the host lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cove.aws.errors import ValidationException
from cove.runtime.catalog import INSTANCE_TYPES, Capacity
from cove.runtime.images import ImageRegistry, UnknownImage
from cove.services.sagemaker.errors import ResourceLimitExceeded

__all__ = ["admission"]

_USAGE = {"training": "training job usage", "processing": "processing job usage"}


def admission(images: ImageRegistry, capacity: Capacity) -> Callable[[str, dict[str, Any]], None]:
    def check(kind: str, request: dict[str, Any]) -> None:
        if kind == "training":
            uri = (request.get("AlgorithmSpecification") or {}).get("TrainingImage")
            resources = request.get("ResourceConfig") or {}
        else:
            uri = (request.get("AppSpecification") or {}).get("ImageUri")
            resources = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        if uri:
            try:
                images.resolve(str(uri))
            except UnknownImage as exc:
                raise ValidationException(str(exc)) from None
        name = str(resources.get("InstanceType") or "")
        count = int(resources.get("InstanceCount") or 1)
        instance_type = INSTANCE_TYPES.get(name)
        if instance_type is None:
            known = ", ".join(sorted(INSTANCE_TYPES))
            raise ValidationException(
                f"Cove has no figures for the instance type {name}. Instance types: {known}."
            )
        reason = capacity.never_fits(instance_type, count)
        if reason is not None:
            raise ResourceLimitExceeded(
                f"The account-level service limit '{name} for {_USAGE[kind]}' cannot be met on this host: "
                f"{reason}. Request fewer or smaller instances."
            )

    return check
