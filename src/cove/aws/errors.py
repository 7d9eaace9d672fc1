"""Typed service errors: every failure a client sees is one of these, rendered per protocol."""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "InternalFailure",
    "InvalidParameterValue",
    "MissingParameter",
    "NotImplementedOperation",
    "ServiceError",
    "UnknownService",
    "ValidationException",
]


class ServiceError(Exception):
    """An error with AWS's shape: a code, a message, an HTTP status and who is at fault.

    ``code`` is what botocore exposes as ``e.response["Error"]["Code"]``; for json protocols it is
    also written into ``__type``. ``extra`` members are serialized beside Code/Message (for example
    S3's ``BucketName`` or ``Key``).
    """

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if sender_fault is not None:
            self.sender_fault = sender_fault
        self.extra: dict[str, str] = dict(extra or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


class ValidationException(ServiceError):
    """json / rest-json validation failure (SageMaker, KMS, Logs...)."""

    code = "ValidationException"


class InvalidParameterValue(ServiceError):
    """query / ec2 validation failure."""

    code = "InvalidParameterValue"


class MissingParameter(ServiceError):
    code = "MissingParameter"


class AccessDenied(ServiceError):
    code = "AccessDenied"
    status = 403


class NotImplementedOperation(ServiceError):
    """A known service's operation that Cove does not implement (yet)."""

    code = "NotImplemented"
    status = 501
    sender_fault = False


class UnknownService(ServiceError):
    code = "UnknownService"
    status = 400


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500
    sender_fault = False
