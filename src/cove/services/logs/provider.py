"""CloudWatch Logs operations (awsJson1.1, target prefix Logs_20140328): thin handlers.

Authorization goes through the gateway; :meth:`LogsProvider.resource_arn` names what IAM checks,
as AWS does: the log group ARN with its trailing ``:*`` for most actions, the log stream ARN for
the stream-level ones, the ARN given for the tagging ones.
"""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.errors import ServiceError
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.services.logs import filtering, groups, ingest, reading, streams, tagging
from cove.services.logs.errors import InvalidParameterException
from cove.services.logs.names import epoch_ms, group_arn, group_name_of, parse_group_arn, stream_arn

__all__ = ["LogsProvider"]

Out = dict[str, Any]

# Actions IAM authorizes on the log stream rather than on its group.
_STREAM_ACTIONS = frozenset({"PutLogEvents", "GetLogEvents", "DeleteLogStream"})
_ARN_ACTIONS = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})


class LogsProvider(Provider):
    service = "logs"
    # Reads that can scan many events run in a worker thread, not on the event loop.
    blocking = frozenset({"GetLogEvents", "FilterLogEvents"})

    def __init__(self, db: Database) -> None:
        self.db = db

    def resource_arn(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        region, account = ctx.region, ctx.account_id
        if ctx.operation in _ARN_ACTIONS:
            return str(params.get("resourceArn") or "*")
        try:
            name = group_name_of(params, account, region)
        except ServiceError:
            name = None  # the handler reports the bad parameters
        if name is None:
            identifier = str(params.get("logGroupIdentifier") or "")
            parsed = parse_group_arn(identifier) if identifier.startswith("arn:") else None
            if parsed is not None:
                return f"{group_arn(*parsed)}:*"
            return f"arn:aws:logs:{region}:{account}:log-group:*"
        if ctx.operation in _STREAM_ACTIONS and params.get("logStreamName"):
            return stream_arn(region, account, name, str(params["logStreamName"]))
        return f"{group_arn(region, account, name)}:*"

    # Log groups

    @operation("CreateLogGroup")
    def create_log_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            groups.create_group(
                s,
                ctx.account_id,
                ctx.region,
                p["logGroupName"],
                epoch_ms(ctx.now),
                kms_key_id=p.get("kmsKeyId"),
                tags=p.get("tags"),
                log_group_class=p.get("logGroupClass"),
                deletion_protection=bool(p.get("deletionProtectionEnabled")),
            )
        return {}

    @operation("DeleteLogGroup")
    def delete_log_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            groups.delete_group(s, groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"]))
        return {}

    @operation("DescribeLogGroups")
    def describe_log_groups(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return groups.describe_groups(s, ctx.account_id, ctx.region, p)

    @operation("PutRetentionPolicy")
    def put_retention_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            groups.put_retention(s, group, int(p["retentionInDays"]), epoch_ms(ctx.now))
        return {}

    @operation("DeleteRetentionPolicy")
    def delete_retention_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            groups.put_retention(s, group, None, epoch_ms(ctx.now))
        return {}

    @operation("PutLogGroupDeletionProtection")
    def put_log_group_deletion_protection(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._group_name(ctx, p))
            group.deletion_protection = bool(p["deletionProtectionEnabled"])
        return {}

    @operation("AssociateKmsKey")
    def associate_kms_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._kms_target(ctx, p))
            group.kms_key_id = p["kmsKeyId"]
        return {}

    @operation("DisassociateKmsKey")
    def disassociate_kms_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._kms_target(ctx, p))
            group.kms_key_id = None
        return {}

    # Log streams

    @operation("CreateLogStream")
    def create_log_stream(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            streams.create_stream(s, group, p["logStreamName"], epoch_ms(ctx.now))
        return {}

    @operation("DeleteLogStream")
    def delete_log_stream(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            streams.delete_stream(s, group, streams.find_stream(s, group, p["logStreamName"]))
        return {}

    @operation("DescribeLogStreams")
    def describe_log_streams(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._group_name(ctx, p))
            return streams.describe_streams(s, group, p)

    # Events

    @operation("PutLogEvents")
    def put_log_events(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            stream = streams.find_stream(s, group, p["logStreamName"])
            return ingest.put_log_events(s, group, stream, p["logEvents"], epoch_ms(ctx.now))

    @operation("GetLogEvents")
    def get_log_events(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._group_name(ctx, p))
            stream = streams.find_stream(s, group, p["logStreamName"])
            return reading.get_log_events(s, stream, p, groups.retention_floor(group, epoch_ms(ctx.now)))

    @operation("FilterLogEvents")
    def filter_log_events(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, self._group_name(ctx, p))
            return filtering.filter_log_events(s, group, p, groups.retention_floor(group, epoch_ms(ctx.now)))

    # Tags

    @operation("TagResource")
    def tag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            tagging.add_tags(
                tagging.group_for_arn(s, ctx.account_id, ctx.region, p["resourceArn"]), p["tags"]
            )
        return {}

    @operation("UntagResource")
    def untag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = tagging.group_for_arn(s, ctx.account_id, ctx.region, p["resourceArn"])
            tagging.remove_tags(group, p["tagKeys"])
        return {}

    @operation("ListTagsForResource")
    def list_tags_for_resource(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            group = tagging.group_for_arn(s, ctx.account_id, ctx.region, p["resourceArn"])
            return {"tags": dict(group.tags or {})}

    @operation("TagLogGroup")
    def tag_log_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            tagging.add_tags(group, p["tags"], legacy=True)
        return {}

    @operation("UntagLogGroup")
    def untag_log_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            tagging.remove_tags(group, p["tags"])
        return {}

    @operation("ListTagsLogGroup")
    def list_tags_log_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            group = groups.find_group(s, ctx.account_id, ctx.region, p["logGroupName"])
            return {"tags": dict(group.tags or {})}

    # Plumbing

    @staticmethod
    def _group_name(ctx: RequestContext, p: dict[str, Any]) -> str | None:
        return group_name_of(p, ctx.account_id, ctx.region)

    @staticmethod
    def _kms_target(ctx: RequestContext, p: dict[str, Any]) -> str | None:
        name, resource = p.get("logGroupName"), p.get("resourceIdentifier")
        if (name is None) == (resource is None):
            raise InvalidParameterException(
                "Specify either logGroupName or resourceIdentifier, but not both."
            )
        if name is not None:
            return str(name)
        parsed = parse_group_arn(str(resource))
        if parsed is None:
            raise InvalidParameterException(
                "Cove associates KMS keys with log groups only, not with query results."
            )
        return parsed[2] if parsed[:2] == (ctx.region, ctx.account_id) else None
