"""SageMaker's FailureReason texts for what goes wrong while moving a job's data (contract §1.5, §5.4).

Real texts where they are known: the route-table advice (upload, quoted from a real job; the download
variant reuses it after SageMaker's confirmed ``Data download failed:`` prefix), ``Unable to download
object s3://… (AccessDenied: Access Denied)``, the ``'//'`` key message, and ``No S3 objects found under
S3 URL …`` (real SageMaker checks that one when the job is created; the agent meets it at run time).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
)

__all__ = [
    "DOWNLOAD",
    "ROUTE_ADVICE",
    "UPLOAD",
    "TransferFailure",
    "empty_prefix",
    "from_exception",
    "illegal_key",
]

DOWNLOAD = "Data download failed:"
UPLOAD = "Artifact upload failed:"
ROUTE_ADVICE = (
    "Please ensure that the subnet's route table has a route to an S3 VPC endpoint or a NAT device, "
    "and both the security groups and the subnet's network ACL allow outbound traffic to S3"
)


class TransferFailure(Exception):
    """A failure already phrased as the job's FailureReason; ``detail`` is for logs."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _code_message(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    # HEAD answers carry no body: only the status survives.
    if code == "403" or (not code and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403):
        return "AccessDenied", "Access Denied"
    if code == "404":
        return "NoSuchKey", "The specified key does not exist."
    return code or "Unknown", message


def from_exception(exc: BaseException, phase: str, uri: str) -> TransferFailure:
    """``phase`` is DOWNLOAD or UPLOAD; ``uri`` the object (or prefix) the failed request was about."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TransferFailure):
        return exc
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return TransferFailure(f"ClientError: {phase}{ROUTE_ADVICE}", detail)
    if isinstance(exc, ClientError):
        code, message = _code_message(exc)
        verb = "download" if phase == DOWNLOAD else "upload"
        return TransferFailure(
            f"ClientError: {phase}Unable to {verb} object {uri} ({code}: {message})", detail
        )
    if isinstance(exc, (NoCredentialsError, CredentialRetrievalError)):
        return TransferFailure(
            f"ClientError: {phase}Unable to obtain the execution role's credentials", detail
        )
    if isinstance(exc, BotoCoreError):
        return TransferFailure(f"ClientError: {phase}{exc}", detail)
    if isinstance(exc, OSError):
        return TransferFailure(f"ClientError: {phase}{exc.strerror or exc} ({uri})", detail)
    return TransferFailure("InternalServerError: We encountered an internal error. Please try again.", detail)


def illegal_key(bucket: str, key: str) -> TransferFailure:
    return TransferFailure(
        f"ClientError: {DOWNLOAD}Failed to download data. S3 key: s3://{bucket}/{key} "
        "has an illegal char sub-sequence '//' in it"
    )


def empty_prefix(uri: str, bucket: str, region: str, role_arn: str, detail: str = "") -> TransferFailure:
    return TransferFailure(
        f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
        f"that the bucket exists in the selected region ({region}), that objects exist under that S3 "
        f'prefix, and that the role "{role_arn}" has "s3:ListBucket" permissions on bucket "{bucket}".',
        detail,
    )
