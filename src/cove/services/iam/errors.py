"""IAM's typed errors, with the codes and HTTP statuses AWS returns."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "DeleteConflict",
    "EntityAlreadyExists",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "NoSuchEntity",
]


class NoSuchEntity(ServiceError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(ServiceError):
    code = "EntityAlreadyExists"
    status = 409


class MalformedPolicyDocument(ServiceError):
    code = "MalformedPolicyDocument"
    status = 400


class DeleteConflict(ServiceError):
    code = "DeleteConflict"
    status = 409


class InvalidInput(ServiceError):
    code = "InvalidInput"
    status = 400


class LimitExceeded(ServiceError):
    code = "LimitExceeded"
    status = 409
