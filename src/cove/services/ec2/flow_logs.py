"""VPC flow logs: which VPCs, subnets and ENIs are logged, what traffic, in which format, to where.

Cove records the configuration here; the enforcement layer reads it (:func:`flow_logs_for`) and
writes records in the stored ``LogFormat``. The field list and the default format are AWS's
(vpc-semantics §1.9). A flow log whose delivery role does not exist is kept, as AWS keeps it, with
``DeliverLogsStatus`` FAILED and "Access error".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.fabric.flowlogs.records import DEFAULT_FORMAT, FIELDS, FormatError, parse_format
from cove.services.ec2.errors import Ec2Error
from cove.services.ec2.filters import FilterSpec, apply_filters, field
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.endpoints import FlowLog
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "DEFAULT_LOG_FORMAT",
    "FIELDS",
    "FlowLogConfig",
    "create_flow_logs",
    "delete_flow_logs",
    "describe_flow_logs",
    "flow_log_view",
    "flow_logs_for",
    "parse_log_format",
]

# AWS's field table and default format are the record writer's (cove.fabric.flowlogs), so what
# CreateFlowLogs accepts is exactly what the kernel side can write.
DEFAULT_LOG_FORMAT = DEFAULT_FORMAT

_RESOURCE_TYPES = {"VPC": "vpc", "Subnet": "subnet", "NetworkInterface": "eni"}
_TRAFFIC_TYPES = {"ACCEPT", "REJECT", "ALL"}
_DESTINATION_TYPES = {"cloud-watch-logs", "s3", "kinesis-data-firehose"}


@dataclass(frozen=True, slots=True)
class FlowLogConfig:
    """One active flow log, as the enforcement layer needs it."""

    flow_log_id: str
    account_id: str
    region: str
    resource_id: str
    resource_type: str
    traffic_type: str
    fields: list[str]
    max_aggregation_interval: int
    destination_type: str
    log_group_name: str | None
    log_destination: str | None
    delivering: bool


def _invalid(message: str) -> Ec2Error:
    return Ec2Error(message, code="InvalidParameter")


def parse_log_format(log_format: str) -> list[str]:
    """The fields of a ``${a} ${b}`` format, in order; unknown or malformed fields are refused."""
    if not log_format.split():
        raise _invalid("LogFormat must contain at least one field.")
    try:
        return list(parse_format(log_format))
    except FormatError as exc:
        raise _invalid(str(exc)) from None


def flow_log_view(fl: FlowLog) -> dict[str, Any]:
    view: dict[str, Any] = {
        "CreationTime": fl.created,
        "DeliverLogsStatus": fl.deliver_logs_status,
        "FlowLogId": fl.id,
        "FlowLogStatus": fl.flow_log_status,
        "ResourceId": fl.resource_id,
        "TrafficType": fl.traffic_type,
        "LogDestinationType": fl.destination_type,
        "LogFormat": fl.log_format,
        "Tags": list(fl.tags),
        "MaxAggregationInterval": fl.max_aggregation_interval,
    }
    if fl.deliver_logs_status == "FAILED":
        view["DeliverLogsErrorMessage"] = "Access error"
    if fl.deliver_logs_permission_arn:
        view["DeliverLogsPermissionArn"] = fl.deliver_logs_permission_arn
    if fl.deliver_cross_account_role:
        view["DeliverCrossAccountRole"] = fl.deliver_cross_account_role
    if fl.log_group_name:
        view["LogGroupName"] = fl.log_group_name
    if fl.log_destination:
        view["LogDestination"] = fl.log_destination
    if fl.destination_options:
        view["DestinationOptions"] = dict(fl.destination_options)
    if fl.traffic_type is None:
        del view["TrafficType"]
    return view


def _resource_exists(session: Session, account_id: str, region: str, kind: str, resource_id: str) -> bool:
    from cove.services.ec2.tables.topology import NetworkInterface, Subnet, Vpc

    table: Any = {"VPC": Vpc, "Subnet": Subnet, "NetworkInterface": NetworkInterface}[kind]
    row = session.get(table, resource_id)
    return row is not None and row.account_id == account_id and row.region == region


def _resource_error(kind: str, resource_id: str) -> dict[str, str]:
    code, what = {
        "VPC": ("InvalidVpcID.NotFound", "vpc ID"),
        "Subnet": ("InvalidSubnetID.NotFound", "subnet ID"),
        "NetworkInterface": ("InvalidNetworkInterfaceID.NotFound", "networkInterface ID"),
    }[kind]
    return {"Code": code, "Message": f"The {what} '{resource_id}' does not exist"}


def _role_usable(session: Session, arn: str) -> bool:
    from cove.services.iam.roles import find_role_by_arn

    return find_role_by_arn(session, arn) is not None


def _destination(params: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(destination type, log group name, log destination ARN), checked as AWS checks them."""
    kind = params.get("LogDestinationType")
    group = params.get("LogGroupName")
    destination = params.get("LogDestination")
    if group and kind not in (None, "cloud-watch-logs"):
        raise _invalid("LogDestination type must be cloud-watch-logs if LogGroupName is provided.")
    kind = kind or "cloud-watch-logs"
    if kind not in _DESTINATION_TYPES:
        raise Ec2Error(
            f"Value ({kind}) for parameter LogDestinationType is invalid.", code="InvalidParameterValue"
        )
    if group and destination:
        raise _invalid("Please only provide LogGroupName or only provide LogDestination.")
    if not group and not destination:
        raise _invalid("LogDestination can't be empty if LogGroupName is not provided.")
    if kind == "cloud-watch-logs":
        if not params.get("DeliverLogsPermissionArn"):
            raise _invalid(
                "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs."
            )
        if destination:
            match = re.fullmatch(
                r"arn:aws[\w-]*:logs:[\w-]+:\d{12}:log-group:([^:*]+)(:\*)?", str(destination)
            )
            if match is None:
                raise _invalid(f"LogDestination: {destination} is not a valid CloudWatch Logs log group ARN.")
            group = match.group(1)
    elif kind == "s3":
        if not re.fullmatch(r"arn:aws[\w-]*:s3:::[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?", str(destination)):
            raise _invalid(f"LogDestination: {destination} is not a valid S3 bucket ARN.")
        if params.get("DeliverLogsPermissionArn"):
            raise _invalid("DeliverLogsPermissionArn is not applicable for s3 delivery.")
    elif not str(destination).startswith("arn:"):
        raise _invalid(f"LogDestination: {destination} is not a valid Kinesis Data Firehose ARN.")
    return kind, (str(group) if group else None), (str(destination) if destination else None)


def create_flow_logs(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    token = params.get("ClientToken")
    if token:
        previous = session.scalars(
            select(FlowLog.id).where(
                FlowLog.account_id == account_id, FlowLog.region == region, FlowLog.client_token == token
            )
        ).all()
        if previous:
            return {"ClientToken": token, "FlowLogIds": list(previous), "Unsuccessful": []}
    resource_type = str(params["ResourceType"])
    if resource_type not in _RESOURCE_TYPES:
        raise Ec2Error(
            f"Value ({resource_type}) for parameter ResourceType is invalid. Valid values: "
            "VPC, Subnet, NetworkInterface",
            code="InvalidParameterValue",
        )
    traffic = params.get("TrafficType")
    if traffic is not None:
        traffic = str(traffic).upper()
        if traffic not in _TRAFFIC_TYPES:
            raise Ec2Error(
                f"Value ({params['TrafficType']}) for parameter TrafficType is invalid.",
                code="InvalidParameterValue",
            )
    else:
        raise _invalid("TrafficType must be specified.")
    interval = int(params.get("MaxAggregationInterval") or 600)
    if interval not in (60, 600):
        raise _invalid("Invalid Flow Log Max Aggregation Interval")
    kind, group, destination = _destination(params)
    log_format = params.get("LogFormat")
    if log_format:
        parse_log_format(str(log_format))
    log_format = str(log_format) if log_format else DEFAULT_LOG_FORMAT
    role_arn = params.get("DeliverLogsPermissionArn")
    delivering = True
    if kind == "cloud-watch-logs" and role_arn:
        delivering = _role_usable(session, str(role_arn))
    tags = tags_from_specifications(params.get("TagSpecifications"), "vpc-flow-log")
    options = params.get("DestinationOptions")
    if kind == "s3":
        options = {
            "FileFormat": "plain-text",
            "HiveCompatiblePartitions": False,
            "PerHourPartition": False,
            **(options or {}),
        }
    else:
        options = None

    ids: list[str] = []
    unsuccessful: list[dict[str, Any]] = []
    for resource_id in params["ResourceIds"]:
        if not _resource_exists(session, account_id, region, resource_type, resource_id):
            unsuccessful.append(
                {"ResourceId": resource_id, "Error": _resource_error(resource_type, resource_id)}
            )
            continue
        duplicate = session.scalars(
            select(FlowLog.id).where(
                FlowLog.account_id == account_id,
                FlowLog.region == region,
                FlowLog.resource_id == resource_id,
                FlowLog.traffic_type == traffic,
                FlowLog.destination_type == kind,
                FlowLog.log_group_name == group if group else FlowLog.log_group_name.is_(None),
                FlowLog.log_destination == destination if destination else FlowLog.log_destination.is_(None),
            )
        ).first()
        if duplicate is not None:
            raise Ec2Error(
                "Error. There is an existing Flow Log with the same configuration and log destination.",
                code="FlowLogAlreadyExists",
            )
        fl = FlowLog(
            id=new_id("fl"),
            account_id=account_id,
            region=region,
            resource_id=resource_id,
            resource_type=resource_type,
            traffic_type=traffic,
            destination_type=kind,
            log_group_name=group,
            log_destination=destination,
            deliver_logs_permission_arn=str(role_arn) if role_arn else None,
            deliver_cross_account_role=params.get("DeliverCrossAccountRole"),
            log_format=log_format,
            max_aggregation_interval=interval,
            destination_options=options,
            deliver_logs_status="SUCCESS" if delivering else "FAILED",
            flow_log_status="ACTIVE",
            client_token=token,
            tags=tags,
        )
        session.add(fl)
        ids.append(fl.id)
    session.flush()
    out: dict[str, Any] = {"FlowLogIds": ids, "Unsuccessful": unsuccessful}
    if token:
        out["ClientToken"] = token
    return out


_FILTERS: FilterSpec = {
    "deliver-log-status": field("DeliverLogsStatus"),
    "log-destination-type": field("LogDestinationType"),
    "flow-log-id": field("FlowLogId"),
    "log-group-name": field("LogGroupName"),
    "resource-id": field("ResourceId"),
    "traffic-type": field("TrafficType"),
}


def describe_flow_logs(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = select(FlowLog).where(FlowLog.account_id == account_id, FlowLog.region == region)
    ids = params.get("FlowLogIds")
    if ids:
        query = query.where(FlowLog.id.in_(ids))
    rows = session.scalars(query.order_by(FlowLog.created, FlowLog.id)).all()
    views = [flow_log_view(r) for r in rows]
    # AWS matches traffic-type case-insensitively (ACCEPT / Accept).
    filters = [
        {**f, "Values": [str(v).upper() for v in f.get("Values", [])]}
        if f.get("Name") == "traffic-type"
        else f
        for f in params.get("Filter") or params.get("Filters") or []
    ]
    views = [dict(v) for v in apply_filters(views, filters, _FILTERS)]
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"FlowLogs": page, **extra}


def delete_flow_logs(session: Session, account_id: str, region: str, ids: list[str]) -> list[dict[str, Any]]:
    rows = {
        fl.id: fl
        for fl in session.scalars(
            select(FlowLog).where(
                FlowLog.account_id == account_id, FlowLog.region == region, FlowLog.id.in_(ids)
            )
        )
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise Ec2Error(
            f"These flow log ids in the input list are not found: [TotalCount: {len(missing)}] "
            + " ".join(missing),
            code="InvalidFlowLogId.NotFound",
        )
    for fl in rows.values():
        session.delete(fl)
    session.flush()
    return []


def flow_logs_for(session: Session, resource_ids: Iterable[str]) -> list[FlowLogConfig]:
    """The flow logs attached to any of ``resource_ids`` (an ENI's own id, its subnet's, its VPC's)."""
    wanted = list(resource_ids)
    if not wanted:
        return []
    rows = session.scalars(
        select(FlowLog).where(FlowLog.resource_id.in_(wanted)).order_by(FlowLog.created, FlowLog.id)
    ).all()
    return [
        FlowLogConfig(
            flow_log_id=fl.id,
            account_id=fl.account_id,
            region=fl.region,
            resource_id=fl.resource_id,
            resource_type=fl.resource_type,
            traffic_type=fl.traffic_type or "ALL",
            fields=parse_log_format(fl.log_format),
            max_aggregation_interval=fl.max_aggregation_interval,
            destination_type=fl.destination_type,
            log_group_name=fl.log_group_name,
            log_destination=fl.log_destination,
            delivering=fl.deliver_logs_status == "SUCCESS",
        )
        for fl in rows
    ]
