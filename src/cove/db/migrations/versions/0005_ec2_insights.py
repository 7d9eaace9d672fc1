"""EC2 Reachability Analyzer: network insights paths and analyses

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_insights_paths",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=True),
        sa.Column("source_ip", sa.String(length=15), nullable=True),
        sa.Column("destination_ip", sa.String(length=15), nullable=True),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("destination_port", sa.Integer(), nullable=True),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_insights_paths")),
    )
    op.create_index(op.f("ix_ec2_insights_paths_account_id"), "ec2_insights_paths", ["account_id"])
    op.create_index(op.f("ix_ec2_insights_paths_region"), "ec2_insights_paths", ["region"])
    op.create_table(
        "ec2_insights_analyses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("path_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("started", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["path_id"],
            ["ec2_insights_paths.id"],
            name=op.f("fk_ec2_insights_analyses_path_id_ec2_insights_paths"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_insights_analyses")),
    )
    op.create_index(op.f("ix_ec2_insights_analyses_path_id"), "ec2_insights_analyses", ["path_id"])
    op.create_index(op.f("ix_ec2_insights_analyses_account_id"), "ec2_insights_analyses", ["account_id"])
    op.create_index(op.f("ix_ec2_insights_analyses_region"), "ec2_insights_analyses", ["region"])


def downgrade() -> None:
    op.drop_table("ec2_insights_analyses")
    op.drop_table("ec2_insights_paths")
