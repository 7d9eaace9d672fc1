"""S3: buckets, objects, multipart uploads

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "s3_buckets",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("encryption", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_s3_buckets_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_s3_buckets")),
    )
    with op.batch_alter_table("s3_buckets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_s3_buckets_account_id"), ["account_id"], unique=False)

    op.create_table(
        "s3_objects",
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("last_modified", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("user_metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("checksums", sa.JSON(), nullable=False),
        sa.Column("sse", sa.String(length=16), nullable=False),
        sa.Column("kms_key_arn", sa.String(length=2048), nullable=True),
        sa.Column("bucket_key_enabled", sa.Boolean(), nullable=False),
        sa.Column("parts_count", sa.Integer(), nullable=True),
        sa.Column("blobs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket"], ["s3_buckets.name"], name=op.f("fk_s3_objects_bucket_s3_buckets")
        ),
        sa.PrimaryKeyConstraint("bucket", "key", name=op.f("pk_s3_objects")),
    )

    op.create_table(
        "s3_uploads",
        sa.Column("upload_id", sa.String(length=128), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("initiator_arn", sa.String(length=2048), nullable=False),
        sa.Column("owner_account", sa.String(length=12), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("user_metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("sse", sa.String(length=16), nullable=False),
        sa.Column("kms_key_id", sa.String(length=2048), nullable=True),
        sa.Column("bucket_key_enabled", sa.Boolean(), nullable=False),
        sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
        sa.Column("initiated", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket"], ["s3_buckets.name"], name=op.f("fk_s3_uploads_bucket_s3_buckets")
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_s3_uploads")),
    )
    with op.batch_alter_table("s3_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_s3_uploads_bucket"), ["bucket"], unique=False)

    op.create_table(
        "s3_parts",
        sa.Column("upload_id", sa.String(length=128), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("checksums", sa.JSON(), nullable=False),
        sa.Column("last_modified", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("blob", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["s3_uploads.upload_id"],
            name=op.f("fk_s3_parts_upload_id_s3_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "part_number", name=op.f("pk_s3_parts")),
    )


def downgrade() -> None:
    op.drop_table("s3_parts")
    with op.batch_alter_table("s3_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_s3_uploads_bucket"))
    op.drop_table("s3_uploads")
    op.drop_table("s3_objects")
    with op.batch_alter_table("s3_buckets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_s3_buckets_account_id"))
    op.drop_table("s3_buckets")
