"""EC2 endpoint-family state: customer-managed prefix lists, VPC endpoints and flow logs.

AWS-managed prefix lists (``com.amazonaws.<region>.s3`` …) are not stored: they are the same for
every account and derived from the region (see ``cove.services.ec2.prefix_lists``). Rows carry
``account_id`` and ``region``; references to other families' resources (VPCs, subnets, route
tables, ENIs, security groups) are plain id columns checked by the service code, so each family's
tables stay independent of the order the others are built in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = ["FlowLog", "ManagedPrefixList", "VpcEndpoint"]


class ManagedPrefixList(Base):
    """A customer-managed prefix list; ``history`` keeps every version's entries (TargetVersion)."""

    __tablename__ = "ec2_managed_prefix_lists"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    address_family: Mapped[str] = mapped_column(String(8))
    max_entries: Mapped[int] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(32), default="create-complete")
    # [{"Cidr", "Description"?}] of the current version.
    entries: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # {"<version>": [entries]} for every version, the current one included.
    history: Mapped[dict[str, list[dict[str, str]]]] = mapped_column(JSON, default=dict)
    client_token: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class VpcEndpoint(Base):
    __tablename__ = "ec2_vpc_endpoints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    vpc_id: Mapped[str] = mapped_column(String(32), index=True)
    service_name: Mapped[str] = mapped_column(String(255))
    endpoint_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32), default="available")
    policy_document: Mapped[str | None] = mapped_column(Text)
    route_table_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    subnet_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    network_interface_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    private_dns_enabled: Mapped[bool] = mapped_column(default=False)
    ip_address_type: Mapped[str] = mapped_column(String(16), default="ipv4")
    # [{"DnsName", "HostedZoneId"}] as DescribeVpcEndpoints returns them.
    dns_entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    client_token: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class FlowLog(Base):
    __tablename__ = "ec2_flow_logs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    resource_id: Mapped[str] = mapped_column(String(32), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    traffic_type: Mapped[str | None] = mapped_column(String(8))
    destination_type: Mapped[str] = mapped_column(String(32))
    log_group_name: Mapped[str | None] = mapped_column(String(512))
    log_destination: Mapped[str | None] = mapped_column(String(2048))
    deliver_logs_permission_arn: Mapped[str | None] = mapped_column(String(2048))
    deliver_cross_account_role: Mapped[str | None] = mapped_column(String(2048))
    log_format: Mapped[str] = mapped_column(Text)
    max_aggregation_interval: Mapped[int] = mapped_column(default=600)
    # {"FileFormat", "HiveCompatiblePartitions", "PerHourPartition"} for S3 destinations.
    destination_options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deliver_logs_status: Mapped[str] = mapped_column(String(16), default="SUCCESS")
    flow_log_status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    client_token: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)
