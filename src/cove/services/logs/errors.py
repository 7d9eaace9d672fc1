"""CloudWatch Logs' typed errors, with the codes and messages AWS returns."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "GROUP_EXISTS",
    "GROUP_MISSING",
    "STREAM_EXISTS",
    "STREAM_MISSING",
    "InvalidParameterException",
    "LogsValidationException",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
    "TooManyTagsException",
    "invalid_token",
]

GROUP_EXISTS = "The specified log group already exists"
GROUP_MISSING = "The specified log group does not exist."
STREAM_EXISTS = "The specified log stream already exists"
STREAM_MISSING = "The specified log stream does not exist."


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(ServiceError):
    code = "ResourceAlreadyExistsException"


class TooManyTagsException(ServiceError):
    code = "TooManyTagsException"


class LogsValidationException(ServiceError):
    code = "ValidationException"


def invalid_token() -> InvalidParameterException:
    return InvalidParameterException("The specified nextToken is invalid.")
