"""CloudWatch Logs: log groups, log streams, log events

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logs_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("kms_key_id", sa.String(length=256), nullable=True),
        sa.Column("log_group_class", sa.String(length=32), nullable=False),
        sa.Column("deletion_protection", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs_groups")),
        sa.UniqueConstraint("account_id", "region", "name", name=op.f("uq_logs_groups_account_id")),
    )
    op.create_table(
        "logs_streams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_ingestion_ms", sa.BigInteger(), nullable=True),
        sa.Column("uploads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["logs_groups.id"],
            name=op.f("fk_logs_streams_group_id_logs_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs_streams")),
        sa.UniqueConstraint("group_id", "name", name=op.f("uq_logs_streams_group_id")),
    )
    op.create_table(
        "logs_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("ingestion", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["logs_groups.id"],
            name=op.f("fk_logs_events_group_id_logs_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["logs_streams.id"],
            name=op.f("fk_logs_events_stream_id_logs_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs_events")),
    )
    with op.batch_alter_table("logs_events", schema=None) as batch_op:
        batch_op.create_index("ix_logs_events_stream_time", ["stream_id", "timestamp", "id"], unique=False)
        batch_op.create_index("ix_logs_events_group_time", ["group_id", "timestamp", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("logs_events", schema=None) as batch_op:
        batch_op.drop_index("ix_logs_events_group_time")
        batch_op.drop_index("ix_logs_events_stream_time")
    op.drop_table("logs_events")
    op.drop_table("logs_streams")
    op.drop_table("logs_groups")
