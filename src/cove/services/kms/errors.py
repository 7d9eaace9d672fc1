"""KMS's typed errors, with the codes and HTTP statuses AWS returns."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "AlreadyExistsException",
    "DisabledException",
    "IncorrectKeyException",
    "InvalidArnException",
    "InvalidCiphertextException",
    "InvalidGrantIdException",
    "InvalidGrantTokenException",
    "InvalidKeyUsageException",
    "InvalidMarkerException",
    "KMSInvalidSignatureException",
    "KMSInvalidStateException",
    "KmsAccessDenied",
    "LimitExceededException",
    "MalformedPolicyDocumentException",
    "NotFoundException",
    "TagException",
    "UnsupportedOperationException",
]


class NotFoundException(ServiceError):
    code = "NotFoundException"


class AlreadyExistsException(ServiceError):
    code = "AlreadyExistsException"


class DisabledException(ServiceError):
    code = "DisabledException"


class KMSInvalidStateException(ServiceError):
    code = "KMSInvalidStateException"


class InvalidCiphertextException(ServiceError):
    code = "InvalidCiphertextException"


class IncorrectKeyException(ServiceError):
    code = "IncorrectKeyException"


class InvalidKeyUsageException(ServiceError):
    code = "InvalidKeyUsageException"


class KMSInvalidSignatureException(ServiceError):
    code = "KMSInvalidSignatureException"


class MalformedPolicyDocumentException(ServiceError):
    code = "MalformedPolicyDocumentException"


class InvalidArnException(ServiceError):
    code = "InvalidArnException"


class InvalidMarkerException(ServiceError):
    code = "InvalidMarkerException"


class InvalidGrantIdException(ServiceError):
    code = "InvalidGrantIdException"


class InvalidGrantTokenException(ServiceError):
    code = "InvalidGrantTokenException"


class UnsupportedOperationException(ServiceError):
    code = "UnsupportedOperationException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


class TagException(ServiceError):
    code = "TagException"


class KmsAccessDenied(ServiceError):
    """KMS spells it AccessDeniedException (json protocol), unlike IAM's AccessDenied."""

    code = "AccessDeniedException"
    status = 400
