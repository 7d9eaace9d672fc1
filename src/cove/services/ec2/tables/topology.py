"""EC2 topology state: VPCs, subnets, route tables, gateways, elastic IPs, NAT gateways, ENIs.

Every resource row carries ``account_id`` and ``region``: EC2 resources are regional and private to
an account. Lists that change together with their owner (a VPC's CIDR associations, an ENI's group
ids) are JSON columns; things that are queried on their own (routes, associations, private IPs) are
rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = [
    "Address",
    "InternetGateway",
    "NatGateway",
    "NetworkInterface",
    "PrivateIp",
    "RegionState",
    "Route",
    "RouteTable",
    "RouteTableAssociation",
    "Subnet",
    "Vpc",
]


class RegionState(Base):
    """Marks an (account, region) whose default VPC has been created (once: deleting it is final)."""

    __tablename__ = "ec2_region_states"
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    default_vpc_created: Mapped[datetime] = mapped_column(default=utcnow)


class Vpc(Base):
    __tablename__ = "ec2_vpcs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    cidr_block: Mapped[str] = mapped_column(String(43))
    # [{"AssociationId", "CidrBlock", "State"}] in association order; the first is the primary.
    cidr_blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    ipv6_cidr_blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    instance_tenancy: Mapped[str] = mapped_column(String(16), default="default")
    dhcp_options_id: Mapped[str] = mapped_column(String(32), default="default")
    is_default: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="available")
    enable_dns_support: Mapped[bool] = mapped_column(default=True)
    enable_dns_hostnames: Mapped[bool] = mapped_column(default=False)
    enable_network_address_usage_metrics: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Subnet(Base):
    __tablename__ = "ec2_subnets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    vpc_id: Mapped[str] = mapped_column(ForeignKey("ec2_vpcs.id"), index=True)
    cidr_block: Mapped[str] = mapped_column(String(43))
    ipv6_cidr_blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    availability_zone: Mapped[str] = mapped_column(String(40))
    availability_zone_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="available")
    default_for_az: Mapped[bool] = mapped_column(default=False)
    map_public_ip_on_launch: Mapped[bool] = mapped_column(default=False)
    assign_ipv6_address_on_creation: Mapped[bool] = mapped_column(default=False)
    # The remaining ModifySubnetAttribute switches, by their Describe member name.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class RouteTable(Base):
    __tablename__ = "ec2_route_tables"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    vpc_id: Mapped[str] = mapped_column(ForeignKey("ec2_vpcs.id"), index=True)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Route(Base):
    """One route. Exactly one destination column is set; the target is a (Describe member, id) pair
    such as ("GatewayId", "igw-…"), ("GatewayId", "local") or ("VpcEndpointId", "vpce-…")."""

    __tablename__ = "ec2_routes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route_table_id: Mapped[str] = mapped_column(ForeignKey("ec2_route_tables.id"), index=True)
    destination_cidr_block: Mapped[str | None] = mapped_column(String(43))
    destination_ipv6_cidr_block: Mapped[str | None] = mapped_column(String(64))
    destination_prefix_list_id: Mapped[str | None] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(32), default="CreateRoute")


class RouteTableAssociation(Base):
    """A subnet's or gateway's explicit association, or the VPC's main association (``main``)."""

    __tablename__ = "ec2_route_table_associations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    route_table_id: Mapped[str] = mapped_column(ForeignKey("ec2_route_tables.id"), index=True)
    vpc_id: Mapped[str] = mapped_column(String(32), index=True)
    main: Mapped[bool] = mapped_column(default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)
    gateway_id: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)


class InternetGateway(Base):
    __tablename__ = "ec2_internet_gateways"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    # "internet" or "egress-only" (an egress-only gateway is always attached to its VPC).
    kind: Mapped[str] = mapped_column(String(16), default="internet")
    vpc_id: Mapped[str | None] = mapped_column(String(32), index=True)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Address(Base):
    """An elastic IP; associated to an ENI's private address through ``network_interface_id``."""

    __tablename__ = "ec2_addresses"
    allocation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    public_ip: Mapped[str] = mapped_column(String(15), unique=True)
    domain: Mapped[str] = mapped_column(String(16), default="vpc")
    association_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    network_interface_id: Mapped[str | None] = mapped_column(String(32), index=True)
    private_ip_address: Mapped[str | None] = mapped_column(String(15))
    instance_id: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class NatGateway(Base):
    __tablename__ = "ec2_nat_gateways"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    vpc_id: Mapped[str] = mapped_column(String(32), index=True)
    subnet_id: Mapped[str] = mapped_column(String(32), index=True)
    connectivity_type: Mapped[str] = mapped_column(String(16), default="public")
    allocation_id: Mapped[str | None] = mapped_column(String(32))
    network_interface_id: Mapped[str | None] = mapped_column(String(32))
    private_ip_address: Mapped[str | None] = mapped_column(String(15))
    public_ip: Mapped[str | None] = mapped_column(String(15))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    deleted: Mapped[datetime | None] = mapped_column()


class NetworkInterface(Base):
    __tablename__ = "ec2_network_interfaces"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    vpc_id: Mapped[str] = mapped_column(String(32), index=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("ec2_subnets.id"), index=True)
    availability_zone: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(255), default="")
    interface_type: Mapped[str] = mapped_column(String(32), default="interface")
    requester_managed: Mapped[bool] = mapped_column(default=False)
    requester_id: Mapped[str | None] = mapped_column(String(64))
    mac_address: Mapped[str] = mapped_column(String(17))
    source_dest_check: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="available")
    group_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"AttachmentId", "InstanceId", "InstanceOwnerId", "DeviceIndex", "Status", "AttachTime", …}
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class PrivateIp(Base):
    """An address an ENI holds in its subnet; unique per subnet, so a subnet's free count is a count."""

    __tablename__ = "ec2_private_ips"
    __table_args__ = (UniqueConstraint("subnet_id", "address"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network_interface_id: Mapped[str] = mapped_column(ForeignKey("ec2_network_interfaces.id"), index=True)
    subnet_id: Mapped[str] = mapped_column(String(32), index=True)
    address: Mapped[str] = mapped_column(String(15))
    primary: Mapped[bool] = mapped_column(default=False)
