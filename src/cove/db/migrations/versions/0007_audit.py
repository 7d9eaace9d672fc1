"""CloudTrail-style audit events

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_time", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("event_source", sa.String(length=128), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=True),
        sa.Column("principal_arn", sa.String(length=2048), nullable=True),
        sa.Column("access_key_id", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for column in (
            "event_time",
            "account_id",
            "event_source",
            "event_name",
            "username",
            "principal_arn",
            "access_key_id",
        ):
            batch_op.create_index(batch_op.f(f"ix_audit_events_{column}"), [column], unique=False)

    op.create_table(
        "audit_event_resources",
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=2048), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_seq"],
            ["audit_events.seq"],
            name=op.f("fk_audit_event_resources_event_seq_audit_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_seq", "position", name=op.f("pk_audit_event_resources")),
    )
    with op.batch_alter_table("audit_event_resources", schema=None) as batch_op:
        for column in ("arn", "name", "type"):
            batch_op.create_index(batch_op.f(f"ix_audit_event_resources_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event_resources", schema=None) as batch_op:
        for column in ("type", "name", "arn"):
            batch_op.drop_index(batch_op.f(f"ix_audit_event_resources_{column}"))
    op.drop_table("audit_event_resources")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for column in (
            "access_key_id",
            "principal_arn",
            "username",
            "event_name",
            "event_source",
            "account_id",
            "event_time",
        ):
            batch_op.drop_index(batch_op.f(f"ix_audit_events_{column}"))
    op.drop_table("audit_events")
