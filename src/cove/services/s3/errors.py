"""S3's typed errors, with the codes, statuses and extra members AWS sends."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "BadDigest",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "EntityTooSmall",
    "IllegalLocationConstraint",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidDigest",
    "InvalidLocationConstraint",
    "InvalidPart",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidRequest",
    "MalformedXML",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchTagSet",
    "NoSuchUpload",
    "PreconditionFailed",
    "SseConfigurationNotFound",
]


class NoSuchBucket(ServiceError):
    code = "NoSuchBucket"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist", extra={"BucketName": bucket})


class NoSuchKey(ServiceError):
    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", extra={"Key": key})


class NoSuchUpload(ServiceError):
    code = "NoSuchUpload"
    status = 404

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
            "been aborted or completed.",
            extra={"UploadId": upload_id},
        )


class BucketAlreadyExists(ServiceError):
    code = "BucketAlreadyExists"
    status = 409


class BucketAlreadyOwnedByYou(ServiceError):
    code = "BucketAlreadyOwnedByYou"
    status = 409


class BucketNotEmpty(ServiceError):
    code = "BucketNotEmpty"
    status = 409


class InvalidBucketName(ServiceError):
    code = "InvalidBucketName"


class InvalidLocationConstraint(ServiceError):
    code = "InvalidLocationConstraint"


class IllegalLocationConstraint(ServiceError):
    code = "IllegalLocationConstraintException"


class InvalidArgument(ServiceError):
    code = "InvalidArgument"


class InvalidRequest(ServiceError):
    code = "InvalidRequest"


class MalformedXML(ServiceError):
    code = "MalformedXML"


class BadDigest(ServiceError):
    code = "BadDigest"


class InvalidDigest(ServiceError):
    code = "InvalidDigest"


class InvalidRange(ServiceError):
    code = "InvalidRange"
    status = 416


class PreconditionFailed(ServiceError):
    code = "PreconditionFailed"
    status = 412


class InvalidPart(ServiceError):
    code = "InvalidPart"


class InvalidPartOrder(ServiceError):
    code = "InvalidPartOrder"


class EntityTooSmall(ServiceError):
    code = "EntityTooSmall"


class NoSuchTagSet(ServiceError):
    code = "NoSuchTagSet"
    status = 404


class SseConfigurationNotFound(ServiceError):
    code = "ServerSideEncryptionConfigurationNotFoundError"
    status = 404
