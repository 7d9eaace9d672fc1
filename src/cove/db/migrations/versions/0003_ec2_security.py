"""EC2 security: security groups and rules, network ACLs and entries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_network_acls",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vpc_id"], ["ec2_vpcs.id"], name=op.f("fk_ec2_network_acls_vpc_id_ec2_vpcs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_network_acls")),
    )
    op.create_index(op.f("ix_ec2_network_acls_account_id"), "ec2_network_acls", ["account_id"], unique=False)
    op.create_index(op.f("ix_ec2_network_acls_vpc_id"), "ec2_network_acls", ["vpc_id"], unique=False)
    op.create_table(
        "ec2_security_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vpc_id"], ["ec2_vpcs.id"], name=op.f("fk_ec2_security_groups_vpc_id_ec2_vpcs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_security_groups")),
        sa.UniqueConstraint("account_id", "region", "vpc_id", "name", name="uq_ec2_security_groups_name"),
    )
    op.create_index(
        op.f("ix_ec2_security_groups_account_id"), "ec2_security_groups", ["account_id"], unique=False
    )
    op.create_index(op.f("ix_ec2_security_groups_vpc_id"), "ec2_security_groups", ["vpc_id"], unique=False)
    op.create_table(
        "ec2_network_acl_associations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("acl_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"],
            ["ec2_network_acls.id"],
            name=op.f("fk_ec2_network_acl_associations_acl_id_ec2_network_acls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["ec2_subnets.id"],
            name=op.f("fk_ec2_network_acl_associations_subnet_id_ec2_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_network_acl_associations")),
        sa.UniqueConstraint("subnet_id", name=op.f("uq_ec2_network_acl_associations_subnet_id")),
    )
    op.create_index(
        op.f("ix_ec2_network_acl_associations_acl_id"),
        "ec2_network_acl_associations",
        ["acl_id"],
        unique=False,
    )
    op.create_table(
        "ec2_network_acl_entries",
        sa.Column("acl_id", sa.String(length=32), nullable=False),
        sa.Column("egress", sa.Boolean(), nullable=False),
        sa.Column("rule_number", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("rule_action", sa.String(length=8), nullable=False),
        sa.Column("cidr_block", sa.String(length=64), nullable=True),
        sa.Column("ipv6_cidr_block", sa.String(length=64), nullable=True),
        sa.Column("icmp_type", sa.Integer(), nullable=True),
        sa.Column("icmp_code", sa.Integer(), nullable=True),
        sa.Column("port_from", sa.Integer(), nullable=True),
        sa.Column("port_to", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acl_id"],
            ["ec2_network_acls.id"],
            name=op.f("fk_ec2_network_acl_entries_acl_id_ec2_network_acls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("acl_id", "egress", "rule_number", name=op.f("pk_ec2_network_acl_entries")),
    )
    op.create_table(
        "ec2_security_group_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("is_egress", sa.Boolean(), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("from_port", sa.Integer(), nullable=True),
        sa.Column("to_port", sa.Integer(), nullable=True),
        sa.Column("cidr_ipv4", sa.String(length=64), nullable=True),
        sa.Column("cidr_ipv6", sa.String(length=64), nullable=True),
        sa.Column("prefix_list_id", sa.String(length=32), nullable=True),
        sa.Column("referenced_group_id", sa.String(length=32), nullable=True),
        sa.Column("referenced_user_id", sa.String(length=12), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["ec2_security_groups.id"],
            name=op.f("fk_ec2_security_group_rules_group_id_ec2_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_security_group_rules")),
    )
    op.create_index(
        "ix_ec2_security_group_rules_group",
        "ec2_security_group_rules",
        ["group_id", "is_egress"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ec2_security_group_rules_referenced_group_id"),
        "ec2_security_group_rules",
        ["referenced_group_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ec2_security_group_rules_referenced_group_id"), table_name="ec2_security_group_rules"
    )
    op.drop_index("ix_ec2_security_group_rules_group", table_name="ec2_security_group_rules")
    op.drop_table("ec2_security_group_rules")
    op.drop_table("ec2_network_acl_entries")
    op.drop_index(op.f("ix_ec2_network_acl_associations_acl_id"), table_name="ec2_network_acl_associations")
    op.drop_table("ec2_network_acl_associations")
    op.drop_index(op.f("ix_ec2_security_groups_vpc_id"), table_name="ec2_security_groups")
    op.drop_index(op.f("ix_ec2_security_groups_account_id"), table_name="ec2_security_groups")
    op.drop_table("ec2_security_groups")
    op.drop_index(op.f("ix_ec2_network_acls_vpc_id"), table_name="ec2_network_acls")
    op.drop_index(op.f("ix_ec2_network_acls_account_id"), table_name="ec2_network_acls")
    op.drop_table("ec2_network_acls")
