"""Authorization for every S3 request: identity, bucket and VPC endpoint policies, combined as AWS does.

S3 authorizes its own operations (its provider lists them all in ``self_authorized``) because the
bucket policy and the bucket owner take part in the decision, and only the handler knows them.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from cove import policy
from cove.aws.context import RequestContext
from cove.aws.errors import AccessDenied
from cove.services.cloudtrail import events
from cove.services.ec2.endpoints import DEFAULT_GATEWAY_POLICY, DEFAULT_INTERFACE_POLICY, endpoints_in_vpc
from cove.services.ec2.tables.endpoints import VpcEndpoint
from cove.services.iam.authorizer import IamAuthorizer

__all__ = [
    "ACTIONS",
    "COPY_SOURCE_ACTION",
    "EVENT_SOURCE",
    "VERSION_ACTIONS",
    "action_for",
    "authorize",
    "endpoint_policy",
    "existing_tag_keys",
    "request_tag_keys",
    "resource_arn",
]

EVENT_SOURCE = "s3.amazonaws.com"

# S3 operation → the IAM action it needs, from AWS's "Actions, resources, and condition keys for
# Amazon S3" and each operation's API reference ("you must have the s3:… permission"). Several
# operations share one action (every Delete*Configuration needs the matching Put* action).
ACTIONS: dict[str, str] = {
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",  # plus COPY_SOURCE_ACTION on the source object
    "CreateBucket": "s3:CreateBucket",
    "CreateBucketMetadataConfiguration": "s3:CreateBucketMetadataTableConfiguration",
    "CreateBucketMetadataTableConfiguration": "s3:CreateBucketMetadataTableConfiguration",
    "CreateMultipartUpload": "s3:PutObject",
    "CreateSession": "s3express:CreateSession",
    "DeleteBucket": "s3:DeleteBucket",
    "DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
    "DeleteBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "DeleteBucketMetadataConfiguration": "s3:DeleteBucketMetadataTableConfiguration",
    "DeleteBucketMetadataTableConfiguration": "s3:DeleteBucketMetadataTableConfiguration",
    "DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjectAnnotation": "s3:DeleteObjectAnnotation",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "DeleteObjects": "s3:DeleteObject",  # decided per key
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketAbac": "s3:GetBucketAbac",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "GetBucketAcl": "s3:GetBucketAcl",
    "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
    "GetBucketCors": "s3:GetBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketLogging": "s3:GetBucketLogging",
    "GetBucketMetadataConfiguration": "s3:GetBucketMetadataTableConfiguration",
    "GetBucketMetadataTableConfiguration": "s3:GetBucketMetadataTableConfiguration",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
    "GetBucketNotification": "s3:GetBucketNotification",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "GetObject": "s3:GetObject",
    "GetObjectAcl": "s3:GetObjectAcl",
    "GetObjectAnnotation": "s3:GetObjectAnnotation",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "GetObjectRetention": "s3:GetObjectRetention",
    "GetObjectTagging": "s3:GetObjectTagging",
    "GetObjectTorrent": "s3:GetObject",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "ListBucketAnalyticsConfigurations": "s3:GetAnalyticsConfiguration",
    "ListBucketIntelligentTieringConfigurations": "s3:GetIntelligentTieringConfiguration",
    "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    "ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
    "ListBuckets": "s3:ListAllMyBuckets",
    "ListDirectoryBuckets": "s3express:ListAllMyDirectoryBuckets",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListObjectAnnotations": "s3:ListObjectAnnotations",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListParts": "s3:ListMultipartUploadParts",
    "PutBucketAbac": "s3:PutBucketAbac",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "PutBucketAcl": "s3:PutBucketAcl",
    "PutBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "PutBucketCors": "s3:PutBucketCORS",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
    "PutBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "PutBucketLogging": "s3:PutBucketLogging",
    "PutBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "PutBucketNotification": "s3:PutBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
    "PutBucketTagging": "s3:PutBucketTagging",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "PutBucketWebsite": "s3:PutBucketWebsite",
    "PutObject": "s3:PutObject",
    "PutObjectAcl": "s3:PutObjectAcl",
    "PutObjectAnnotation": "s3:PutObjectAnnotation",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "PutObjectRetention": "s3:PutObjectRetention",
    "PutObjectTagging": "s3:PutObjectTagging",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "RenameObject": "s3express:CreateSession",  # directory buckets authorize through the session
    "RestoreObject": "s3:RestoreObject",
    "SelectObjectContent": "s3:GetObject",
    "UpdateBucketMetadataAnnotationTableConfiguration": "s3:UpdateBucketMetadataAnnotationTableConfiguration",
    "UpdateBucketMetadataInventoryTableConfiguration": "s3:UpdateBucketMetadataInventoryTableConfiguration",
    "UpdateBucketMetadataJournalTableConfiguration": "s3:UpdateBucketMetadataJournalTableConfiguration",
    "UpdateObjectEncryption": "s3:UpdateObjectEncryption",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",  # plus COPY_SOURCE_ACTION on the source object
    "WriteGetObjectResponse": "s3-object-lambda:WriteGetObjectResponse",
}

# CopyObject and UploadPartCopy also read the source object.
COPY_SOURCE_ACTION = "s3:GetObject"

# With a versionId, these operations need the version-specific action instead.
VERSION_ACTIONS: dict[str, str] = {
    "DeleteObject": "s3:DeleteObjectVersion",
    "DeleteObjects": "s3:DeleteObjectVersion",
    "DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "GetObject": "s3:GetObjectVersion",
    "GetObjectAcl": "s3:GetObjectVersionAcl",
    "GetObjectAttributes": "s3:GetObjectVersionAttributes",
    "GetObjectTagging": "s3:GetObjectVersionTagging",
    "HeadObject": "s3:GetObjectVersion",
    "PutObjectAcl": "s3:PutObjectVersionAcl",
    "PutObjectTagging": "s3:PutObjectVersionTagging",
}

# Operations CloudTrail logs as data events (object level), not management events.
_DATA_EVENTS = frozenset(
    {
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteObject",
        "DeleteObjects",
        "DeleteObjectTagging",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "HeadObject",
        "ListMultipartUploads",
        "ListObjectVersions",
        "ListObjects",
        "ListObjectsV2",
        "ListParts",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "RestoreObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
    }
)


def action_for(operation: str, *, version_id: str | None = None) -> str:
    """The IAM action ``operation`` needs (the version-specific one when a versionId is given)."""
    if version_id and operation in VERSION_ACTIONS:
        return VERSION_ACTIONS[operation]
    return ACTIONS[operation]


def resource_arn(bucket: str | None, key: str | None = None) -> str:
    """``arn:aws:s3:::bucket[/key]``; ``*`` when there is no bucket (ListBuckets)."""
    if not bucket:
        return "*"
    if key is None:
        return f"arn:aws:s3:::{bucket}"
    return f"arn:aws:s3:::{bucket}/{key}"


@functools.lru_cache(maxsize=512)
def _parsed(document: str, kind: policy.PolicyKind, name: str | None) -> policy.Policy:
    # Policies are immutable once parsed, and the same few documents decide most requests.
    return policy.parse_policy(document, kind=kind, name=name)


# Nothing is allowed through an endpoint Cove does not know (deleted, or never created): the
# listener that stands for it should not exist, so fail closed.
_NOTHING = policy.parse_policy('{"Version":"2012-10-17","Statement":[]}', kind=policy.PolicyKind.ENDPOINT)


def endpoint_policy(session: Session, vpce_id: str, vpc_id: str | None = None) -> policy.Policy:
    """The policy of the VPC endpoint ``vpce_id`` (AWS's default full-access policy when none was set)."""
    document: str | None = None
    if vpc_id:
        for ep in endpoints_in_vpc(session, vpc_id):
            if ep.endpoint_id == vpce_id:
                document = ep.policy_document
                break
    else:
        row = session.get(VpcEndpoint, vpce_id)
        if row is not None and row.state != "deleted":
            document = row.policy_document or (
                DEFAULT_GATEWAY_POLICY if row.endpoint_type == "Gateway" else DEFAULT_INTERFACE_POLICY
            )
    if document is None:
        return _NOTHING
    return _parsed(document, policy.PolicyKind.ENDPOINT, vpce_id)


def existing_tag_keys(tags: dict[str, str]) -> dict[str, str | list[str]]:
    """``s3:ExistingObjectTag/<key>`` for each tag the object already has (for extra_keys)."""
    return {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}


def request_tag_keys(tags: dict[str, str]) -> dict[str, str | list[str]]:
    """``s3:RequestObjectTag/<key>`` and ``s3:RequestObjectTagKeys`` for tags a request sets."""
    keys: dict[str, str | list[str]] = {f"s3:RequestObjectTag/{k}": v for k, v in tags.items()}
    keys["s3:RequestObjectTagKeys"] = list(tags)
    return keys


def _condition_keys(
    ctx: RequestContext, bucket_owner: str | None, extra_keys: dict[str, str | list[str]] | None
) -> dict[str, str | list[str]]:
    keys: dict[str, str | list[str]] = {}
    if bucket_owner:
        keys["s3:ResourceAccount"] = bucket_owner
        keys["aws:ResourceAccount"] = bucket_owner
    if ctx.credential is not None:
        keys["s3:signatureversion"] = "AWS4-HMAC-SHA256"
    keys.update(extra_keys or {})
    return keys


def authorize(
    session: Session | Connection,
    authorizer: IamAuthorizer,
    ctx: RequestContext,
    *,
    action: str,
    bucket: str | None,
    key: str | None = None,
    bucket_owner: str | None,
    bucket_policy: str | None,
    extra_keys: dict[str, str | list[str]] | None = None,
) -> policy.Decision:
    """Decide ``action`` on the bucket (or object) for ``ctx``'s caller, record the decision in the
    audit trail, and raise S3's AccessDenied when it is not allowed.

    ``bucket_owner`` is the account owning the bucket (``None`` when there is none yet: CreateBucket,
    ListBuckets); ``bucket_policy`` its policy document. A request that came through a VPC endpoint
    listener (``ctx.source.vpce_id``) must also be allowed by that endpoint's policy.
    """
    resource = resource_arn(bucket, key)
    resource_policy = (
        _parsed(bucket_policy, policy.PolicyKind.RESOURCE, f"bucket policy of {bucket}")
        if bucket_policy
        else None
    )
    gate = None
    if ctx.source.vpce_id:
        orm = session if isinstance(session, Session) else Session(bind=session)
        gate = endpoint_policy(orm, ctx.source.vpce_id, ctx.source.vpc_id)
    decision = authorizer.decide(
        ctx,
        action,
        resource,
        resource_policy=resource_policy,
        endpoint_policy=gate,
        resource_account=bucket_owner,
        extra_keys=_condition_keys(ctx, bucket_owner, extra_keys),
    )
    message = None if decision.allowed else _denial_message(ctx, decision, action, resource)
    _record(authorizer, ctx, decision, action, bucket, key, bucket_owner, message)
    if message is not None:
        raise AccessDenied(message)
    return decision


def _denial_message(ctx: RequestContext, decision: policy.Decision, action: str, resource: str) -> str:
    if ctx.principal.kind == "anonymous":
        return "Access Denied"
    return decision.access_denied_message(ctx.principal.arn, action, resource if resource != "*" else None)


def _record(
    authorizer: IamAuthorizer,
    ctx: RequestContext,
    decision: policy.Decision,
    action: str,
    bucket: str | None,
    key: str | None,
    bucket_owner: str | None,
    message: str | None,
) -> None:
    params: dict[str, Any] = {}
    resources: list[dict[str, str]] = []
    if bucket:
        params["bucketName"] = bucket
        if key is not None:
            params["key"] = key
            resources.append(events.resource(resource_arn(bucket, key), "AWS::S3::Object", ""))
        resources.append(events.resource(resource_arn(bucket), "AWS::S3::Bucket", bucket_owner or ""))
    data = ctx.operation in _DATA_EVENTS
    extra: dict[str, Any] = {"action": action}
    if decision.missing_context_keys:
        extra["missingContextKeys"] = list(decision.missing_context_keys)
    event = events.event_from_context(
        ctx,
        source=EVENT_SOURCE,
        name=ctx.operation,
        read_only=action.split(":", 1)[-1].startswith(("Get", "List")),
        request_parameters=params or None,
        resources=resources,
        error_code=None if message is None else "AccessDenied",
        error_message=message,
        management_event=not data,
        event_category="Data" if data else "Management",
        authorization=decision,
        recipient_account_id=bucket_owner or ctx.account_id or None,
        additional_event_data=extra,
    )
    events.record_event(authorizer.db, event)
