"""CreateTags / DeleteTags / DescribeTags across every EC2 resource Cove stores.

A resource id's prefix names its table. Tables are found by module and class name when first
needed, so a family whose tables are not there yet only makes its own ids unknown.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.ec2.errors import Ec2Error
from cove.services.ec2.filters import FilterSpec, apply_filters, field
from cove.services.ec2.paging import paginate
from cove.services.ec2.tags import merge_tags, remove_tags

__all__ = ["KINDS", "ResourceKind", "create_tags", "delete_tags", "describe_tags", "kind_of"]


@dataclass(frozen=True, slots=True)
class ResourceKind:
    prefix: str
    module: str  # under cove.services.ec2.tables
    table: str
    resource_type: str  # DescribeTags' ResourceType
    code: str  # the NotFound error code
    what: str  # "vpc ID" in "The vpc ID 'vpc-1' does not exist"
    # (column, value) that rows of this kind have, where two kinds share a table.
    where: tuple[str, str] | None = None

    def model(self) -> Any | None:
        try:
            module = importlib.import_module(f"cove.services.ec2.tables.{self.module}")
        except ImportError:
            return None
        return getattr(module, self.table, None)

    def not_found(self, resource_id: str) -> Ec2Error:
        return Ec2Error(f"The {self.what} '{resource_id}' does not exist", code=self.code)


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("vpc", "topology", "Vpc", "vpc", "InvalidVpcID.NotFound", "vpc ID"),
    ResourceKind("subnet", "topology", "Subnet", "subnet", "InvalidSubnetID.NotFound", "subnet ID"),
    ResourceKind(
        "rtb", "topology", "RouteTable", "route-table", "InvalidRouteTableID.NotFound", "routeTable ID"
    ),
    ResourceKind(
        "igw",
        "topology",
        "InternetGateway",
        "internet-gateway",
        "InvalidInternetGatewayID.NotFound",
        "internetGateway ID",
        ("kind", "internet"),
    ),
    ResourceKind(
        "eigw",
        "topology",
        "InternetGateway",
        "egress-only-internet-gateway",
        "InvalidGatewayID.NotFound",
        "gateway ID",
        ("kind", "egress-only"),
    ),
    ResourceKind(
        "eipalloc", "topology", "Address", "elastic-ip", "InvalidAllocationID.NotFound", "allocation ID"
    ),
    ResourceKind(
        "nat", "topology", "NatGateway", "natgateway", "InvalidNatGatewayID.NotFound", "natGateway ID"
    ),
    ResourceKind(
        "eni",
        "topology",
        "NetworkInterface",
        "network-interface",
        "InvalidNetworkInterfaceID.NotFound",
        "networkInterface ID",
    ),
    ResourceKind(
        "sg", "security", "SecurityGroup", "security-group", "InvalidGroup.NotFound", "security group"
    ),
    ResourceKind(
        "sgr",
        "security",
        "SecurityGroupRule",
        "security-group-rule",
        "InvalidSecurityGroupRuleId.NotFound",
        "security group rule ID",
    ),
    ResourceKind(
        "acl", "security", "NetworkAcl", "network-acl", "InvalidNetworkAclID.NotFound", "networkAcl ID"
    ),
    ResourceKind(
        "vpce", "endpoints", "VpcEndpoint", "vpc-endpoint", "InvalidVpcEndpointId.NotFound", "VpcEndpoint Id"
    ),
    ResourceKind(
        "pl",
        "endpoints",
        "ManagedPrefixList",
        "prefix-list",
        "InvalidPrefixListID.NotFound",
        "prefix list ID",
    ),
    ResourceKind("fl", "endpoints", "FlowLog", "vpc-flow-log", "InvalidFlowLogId.NotFound", "flow log ID"),
)

_BY_PREFIX = {kind.prefix: kind for kind in KINDS}


def kind_of(resource_id: str) -> ResourceKind:
    prefix, dash, rest = resource_id.partition("-")
    kind = _BY_PREFIX.get(prefix)
    if kind is None or not dash or not rest:
        raise Ec2Error(f"The ID '{resource_id}' is not valid", code="InvalidID")
    return kind


def _row(session: Session, account_id: str, region: str, resource_id: str) -> Any:
    kind = kind_of(resource_id)
    model = kind.model()
    row = session.get(model, resource_id) if model is not None else None
    if row is None or row.account_id != account_id or row.region != region:
        raise kind.not_found(resource_id)
    if kind.where is not None and getattr(row, kind.where[0]) != kind.where[1]:
        raise kind.not_found(resource_id)
    return row


def create_tags(
    session: Session, account_id: str, region: str, resources: list[str], tags: list[dict[str, Any]]
) -> None:
    # Every id is checked before any is tagged: the request succeeds or fails as a whole.
    rows = [_row(session, account_id, region, resource_id) for resource_id in resources]
    for row in rows:
        row.tags = merge_tags(list(row.tags or []), tags)
    session.flush()


def delete_tags(
    session: Session, account_id: str, region: str, resources: list[str], tags: list[dict[str, Any]] | None
) -> None:
    rows = [_row(session, account_id, region, resource_id) for resource_id in resources]
    for row in rows:
        row.tags = [] if tags is None else remove_tags(list(row.tags or []), tags)
    session.flush()


_FILTERS: FilterSpec = {
    "key": field("Key"),
    "value": field("Value"),
    "resource-id": field("ResourceId"),
    "resource-type": field("ResourceType"),
}


def describe_tags(session: Session, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    views: list[dict[str, Any]] = []
    seen_tables: set[tuple[str, str]] = set()
    for kind in KINDS:
        model = kind.model()
        if model is None:
            continue
        query = select(model).where(model.account_id == account_id, model.region == region)
        if kind.where is not None:
            query = query.where(getattr(model, kind.where[0]) == kind.where[1])
        key = (kind.module, kind.table)
        if kind.where is None and key in seen_tables:
            continue
        seen_tables.add(key)
        for row in session.scalars(query):
            tags = list(row.tags or [])
            resource_id = _primary_key(row)
            for tag in tags:
                views.append(
                    {
                        "Key": tag["Key"],
                        "ResourceId": resource_id,
                        "ResourceType": kind.resource_type,
                        "Value": tag["Value"],
                        # Only for the tag:<key> filters; removed before answering.
                        "Tags": tags,
                    }
                )
    views.sort(key=lambda v: (v["ResourceId"], v["Key"]))
    matched = apply_filters(views, params.get("Filters"), _FILTERS)
    out = [{k: v for k, v in view.items() if k != "Tags"} for view in matched]
    page, extra = paginate(out, params.get("MaxResults"), params.get("NextToken"))
    return {"Tags": page, **extra}


def _primary_key(row: Any) -> str:
    return str(row.allocation_id if hasattr(row, "allocation_id") and not hasattr(row, "id") else row.id)
