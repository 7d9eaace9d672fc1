"""SageMaker: training and processing jobs, tags

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sagemaker_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("secondary_status", sa.String(length=32), nullable=True),
        sa.Column("transitions", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("exit_message", sa.Text(), nullable=True),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("started", cove.db.base.UtcDateTime(), nullable=True),
        sa.Column("ended", cove.db.base.UtcDateTime(), nullable=True),
        sa.Column("last_modified", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("model_artifacts", sa.String(length=1024), nullable=True),
        sa.Column("final_metrics", sa.JSON(), nullable=True),
        sa.Column("runtime", sa.JSON(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sagemaker_jobs")),
        sa.UniqueConstraint("arn", name=op.f("uq_sagemaker_jobs_arn")),
    )
    with op.batch_alter_table("sagemaker_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sagemaker_jobs_listing", ["account_id", "region", "kind", "created"], unique=False
        )
        batch_op.create_index("ix_sagemaker_jobs_status", ["status"], unique=False)
    op.create_table(
        "sagemaker_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sagemaker_tags")),
        sa.UniqueConstraint("arn", "key", name=op.f("uq_sagemaker_tags_arn")),
    )


def downgrade() -> None:
    op.drop_table("sagemaker_tags")
    with op.batch_alter_table("sagemaker_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_sagemaker_jobs_status")
        batch_op.drop_index("ix_sagemaker_jobs_listing")
    op.drop_table("sagemaker_jobs")
