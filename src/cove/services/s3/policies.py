"""Bucket policies: PutBucketPolicy's validation (IAM's grammar plus S3's own rules), Get and Delete."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import policy
from cove.aws.errors import ServiceError
from cove.policy.patterns import glob_matches, raw_glob
from cove.services.iam.tables import Account, Role, User
from cove.services.s3.access import ACTIONS, COPY_SOURCE_ACTION, VERSION_ACTIONS
from cove.services.s3.tables import S3Bucket

__all__ = [
    "MAX_POLICY_BYTES",
    "MalformedPolicy",
    "NoSuchBucketPolicy",
    "delete_bucket_policy",
    "get_bucket_policy",
    "put_bucket_policy",
    "validate_bucket_policy",
]

# "Bucket policies are limited to 20 KB in size."
MAX_POLICY_BYTES = 20 * 1024


class MalformedPolicy(ServiceError):
    code = "MalformedPolicy"
    status = 400


class NoSuchBucketPolicy(ServiceError):
    code = "NoSuchBucketPolicy"
    status = 404


# S3 actions a bucket policy may name beyond those the API operations need (replication, Object
# Lock, Batch Operations, access points...): an unknown S3 action is "Policy has invalid action".
_MORE_ACTIONS = frozenset(
    {
        "s3:BypassGovernanceRetention",
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionTorrent",
        "s3:GetObjectTorrent",
        "s3:InitiateReplication",
        "s3:ObjectOwnerOverrideToBucketOwner",
        "s3:ReplicateDelete",
        "s3:ReplicateObject",
        "s3:ReplicateTags",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectVersionAcl",
        "s3:ListBucketVersions",
        "s3:GetAccessPoint",
        "s3:ListAccessPoints",
        "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:DeleteObjectVersion",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionAttributes",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectVersionTagging",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetAccountPublicAccessBlock",
        "s3:PutAccountPublicAccessBlock",
        "s3:CreateJob",
        "s3:DescribeJob",
        "s3:ListJobs",
        "s3:UpdateJobPriority",
        "s3:UpdateJobStatus",
        "s3:ListAllMyBuckets",
    }
)
_KNOWN_ACTIONS = frozenset(
    a.lower()
    for a in (*ACTIONS.values(), *VERSION_ACTIONS.values(), COPY_SOURCE_ACTION, *_MORE_ACTIONS)
    if a.startswith("s3:")
)
_SERVICES = ("s3", "s3express", "s3-object-lambda")


def _malformed(message: str) -> MalformedPolicy:
    return MalformedPolicy(message)


def _s3_message(error: policy.PolicyError) -> str:
    """S3's wording for a document IAM's grammar rejects."""
    reason = error.reason
    if "not valid JSON" in reason or "must be a JSON object" in reason:
        return "This policy contains invalid Json"
    if reason.startswith("Invalid principal in policy"):
        return "Invalid principal in policy"
    if reason.startswith("Missing required field"):
        return reason
    if "must contain resources" in reason:
        return "Statement is missing required element"
    if "must contain actions" in reason:
        return "Missing required field Action"
    if reason.startswith("Actions/Conditions must be prefaced"):
        return "Policy has invalid action"
    if "must be in ARN format" in reason:
        return "Policy has invalid resource"
    return reason


def _action_ok(action: str) -> bool:
    if action == "*":
        return True
    service, _, name = action.partition(":")
    service = service.lower()
    if service not in _SERVICES or not name:
        return False
    if service != "s3":
        return True
    if "*" in name or "?" in name:
        # A wildcard must still name some S3 action.
        return any(glob_matches(raw_glob(action.lower()), known) for known in _KNOWN_ACTIONS)
    return action.lower() in _KNOWN_ACTIONS


def _resource_ok(resource: str, bucket: str) -> bool:
    if resource == "*":
        return True
    prefix = "arn:aws:s3:::"
    if not resource.startswith(prefix):
        return False
    bucket_part = resource.removeprefix(prefix).split("/", 1)[0]
    if bucket_part == bucket:
        return True
    # A wildcard in the bucket part is fine as long as it covers this bucket.
    return ("*" in bucket_part or "?" in bucket_part) and glob_matches(raw_glob(bucket_part), bucket)


def _principal_exists(session: Session, arn: str) -> bool:
    """Principals are checked like AWS does on save, for the accounts Cove knows."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return True
    account, resource = parts[4], parts[5]
    if session.get(Account, account) is None:
        return True
    if resource.startswith("user/"):
        return session.scalar(select(User.id).where(User.arn == arn)) is not None
    if resource.startswith("role/"):
        return session.scalar(select(Role.id).where(Role.arn == arn)) is not None
    return True


def validate_bucket_policy(session: Session, bucket: str, document: str) -> policy.Policy:
    """Parse ``document`` as ``bucket``'s policy or raise MalformedPolicy with S3's message."""
    if len(document.encode()) > MAX_POLICY_BYTES:
        raise _malformed("Policy exceeds the maximum allowed document size.")
    try:
        decoded = json.loads(document)
    except json.JSONDecodeError:
        raise _malformed("This policy contains invalid Json") from None
    if isinstance(decoded, dict) and decoded.get("Statement") in ([], {}):
        raise _malformed("Could not parse the policy: Statement is empty!")
    try:
        parsed = policy.parse_policy(
            decoded, kind=policy.PolicyKind.RESOURCE, name=f"bucket policy of {bucket}"
        )
    except policy.PolicyError as exc:
        raise _malformed(_s3_message(exc)) from None
    for statement in parsed.statements:
        for action in statement.actions or statement.not_actions or ():
            if not _action_ok(action):
                raise _malformed("Policy has invalid action")
        for resource in statement.resources or statement.not_resources or ():
            if not _resource_ok(resource, bucket):
                raise _malformed("Policy has invalid resource")
        for block in (statement.principal, statement.not_principal):
            for value in block.values("AWS") if block is not None else ():
                if value != "*" and not _principal_exists(session, value):
                    raise _malformed("Invalid principal in policy")
    return parsed


def put_bucket_policy(session: Session, bucket_row: S3Bucket, document: str) -> None:
    """PutBucketPolicy: validate, then store the document as given (GetBucketPolicy returns it verbatim)."""
    validate_bucket_policy(session, bucket_row.name, document)
    bucket_row.policy = document


def get_bucket_policy(session: Session, bucket_row: S3Bucket) -> str:
    """GetBucketPolicy: the stored document, or NoSuchBucketPolicy."""
    if not bucket_row.policy:
        raise NoSuchBucketPolicy("The bucket policy does not exist", extra={"BucketName": bucket_row.name})
    return bucket_row.policy


def delete_bucket_policy(session: Session, bucket_row: S3Bucket) -> None:
    """DeleteBucketPolicy: succeeds (204) whether or not a policy was set, as S3 does."""
    bucket_row.policy = None
