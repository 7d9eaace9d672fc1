"""Security groups (one row per rule, as AWS's SecurityGroupRules model has it) and network ACLs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = ["NetworkAcl", "NetworkAclAssociation", "NetworkAclEntry", "SecurityGroup", "SecurityGroupRule"]


class SecurityGroup(Base):
    __tablename__ = "ec2_security_groups"
    __table_args__ = (
        UniqueConstraint("account_id", "region", "vpc_id", "name", name="uq_ec2_security_groups_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    vpc_id: Mapped[str] = mapped_column(ForeignKey("ec2_vpcs.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class SecurityGroupRule(Base):
    """One rule: one direction, one protocol/port range and exactly one peer."""

    __tablename__ = "ec2_security_group_rules"
    __table_args__ = (Index("ix_ec2_security_group_rules_group", "group_id", "is_egress"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("ec2_security_groups.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    is_egress: Mapped[bool] = mapped_column(Boolean)
    # "-1", "tcp", "udp", "icmp", "icmpv6" or another IANA number as text.
    protocol: Mapped[str] = mapped_column(String(16))
    from_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cidr_ipv4: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cidr_ipv6: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prefix_list_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A plain indexed column, not a foreign key: the default group references itself, and a
    # referenced group's deletion is refused by the service (DependencyViolation) rather than the DB.
    referenced_group_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    referenced_user_id: Mapped[str | None] = mapped_column(String(12), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Creation order: DescribeSecurityGroups lists permissions and peers in the order they were added.
    position: Mapped[int] = mapped_column(Integer, default=0)


class NetworkAcl(Base):
    __tablename__ = "ec2_network_acls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    vpc_id: Mapped[str] = mapped_column(ForeignKey("ec2_vpcs.id"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class NetworkAclEntry(Base):
    """A numbered rule; the ``*`` deny rules (32767/32768) are implied and never stored."""

    __tablename__ = "ec2_network_acl_entries"

    acl_id: Mapped[str] = mapped_column(
        ForeignKey("ec2_network_acls.id", ondelete="CASCADE"), primary_key=True
    )
    egress: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    rule_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    protocol: Mapped[str] = mapped_column(String(16))
    rule_action: Mapped[str] = mapped_column(String(8))
    cidr_block: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ipv6_cidr_block: Mapped[str | None] = mapped_column(String(64), nullable=True)
    icmp_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    icmp_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_to: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NetworkAclAssociation(Base):
    """Every subnet has exactly one: the row moves between ACLs, its id changes each time."""

    __tablename__ = "ec2_network_acl_associations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    acl_id: Mapped[str] = mapped_column(ForeignKey("ec2_network_acls.id", ondelete="CASCADE"), index=True)
    # Cascade: a deleted subnet takes its association with it.
    subnet_id: Mapped[str] = mapped_column(ForeignKey("ec2_subnets.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
