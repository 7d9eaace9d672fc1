"""EC2's errors: a dotted code (``InvalidVpcID.NotFound``) and a message, always HTTP 400."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = ["Ec2Error", "invalid_value", "not_found"]


class Ec2Error(ServiceError):
    status = 400


def not_found(code: str, what: str, resource_id: str) -> Ec2Error:
    """``not_found("InvalidVpcID.NotFound", "vpc ID", "vpc-1")`` → AWS's "The vpc ID 'vpc-1' does not exist"."""
    return Ec2Error(f"The {what} '{resource_id}' does not exist", code=code)


def invalid_value(message: str) -> Ec2Error:
    return Ec2Error(message, code="InvalidParameterValue")
