"""EC2 endpoints: managed prefix lists, VPC endpoints, flow logs

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_flow_logs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("traffic_type", sa.String(length=8), nullable=True),
        sa.Column("destination_type", sa.String(length=32), nullable=False),
        sa.Column("log_group_name", sa.String(length=512), nullable=True),
        sa.Column("log_destination", sa.String(length=2048), nullable=True),
        sa.Column("deliver_logs_permission_arn", sa.String(length=2048), nullable=True),
        sa.Column("deliver_cross_account_role", sa.String(length=2048), nullable=True),
        sa.Column("log_format", sa.Text(), nullable=False),
        sa.Column("max_aggregation_interval", sa.Integer(), nullable=False),
        sa.Column("destination_options", sa.JSON(), nullable=True),
        sa.Column("deliver_logs_status", sa.String(length=16), nullable=False),
        sa.Column("flow_log_status", sa.String(length=16), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_flow_logs")),
    )
    with op.batch_alter_table("ec2_flow_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_flow_logs_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_flow_logs_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_flow_logs_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "ec2_managed_prefix_lists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address_family", sa.String(length=8), nullable=False),
        sa.Column("max_entries", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_managed_prefix_lists")),
    )
    with op.batch_alter_table("ec2_managed_prefix_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ec2_managed_prefix_lists_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ec2_managed_prefix_lists_region"), ["region"], unique=False)

    op.create_table(
        "ec2_vpc_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("service_name", sa.String(length=255), nullable=False),
        sa.Column("endpoint_type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("policy_document", sa.Text(), nullable=True),
        sa.Column("route_table_ids", sa.JSON(), nullable=False),
        sa.Column("subnet_ids", sa.JSON(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("network_interface_ids", sa.JSON(), nullable=False),
        sa.Column("private_dns_enabled", sa.Boolean(), nullable=False),
        sa.Column("ip_address_type", sa.String(length=16), nullable=False),
        sa.Column("dns_entries", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_vpc_endpoints")),
    )
    with op.batch_alter_table("ec2_vpc_endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_vpc_endpoints_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_vpc_endpoints_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_vpc_endpoints_vpc_id"), ["vpc_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ec2_vpc_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_vpc_endpoints_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_vpc_endpoints_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_vpc_endpoints_account_id"))

    op.drop_table("ec2_vpc_endpoints")
    with op.batch_alter_table("ec2_managed_prefix_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_managed_prefix_lists_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_managed_prefix_lists_account_id"))

    op.drop_table("ec2_managed_prefix_lists")
    with op.batch_alter_table("ec2_flow_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_flow_logs_resource_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_flow_logs_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_flow_logs_account_id"))

    op.drop_table("ec2_flow_logs")
