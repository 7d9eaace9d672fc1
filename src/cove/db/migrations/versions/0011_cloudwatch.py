"""CloudWatch metrics: metrics and their datapoints

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cloudwatch_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("last_put_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloudwatch_metrics")),
        sa.UniqueConstraint("account_id", "region", "key", name=op.f("uq_cloudwatch_metrics_account_id")),
    )
    with op.batch_alter_table("cloudwatch_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cloudwatch_metrics_listing", ["account_id", "region", "namespace", "name"], unique=False
        )
    op.create_table(
        "cloudwatch_datapoints",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("sample_count", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["cloudwatch_metrics.id"],
            name=op.f("fk_cloudwatch_datapoints_metric_id_cloudwatch_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cloudwatch_datapoints")),
    )
    with op.batch_alter_table("cloudwatch_datapoints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cloudwatch_datapoints_metric_time", ["metric_id", "timestamp"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cloudwatch_datapoints", schema=None) as batch_op:
        batch_op.drop_index("ix_cloudwatch_datapoints_metric_time")
    op.drop_table("cloudwatch_datapoints")
    with op.batch_alter_table("cloudwatch_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_cloudwatch_metrics_listing")
    op.drop_table("cloudwatch_metrics")
