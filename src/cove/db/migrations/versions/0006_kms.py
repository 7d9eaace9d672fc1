"""KMS: keys, key material versions, aliases, grants

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kms_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("key_spec", sa.String(length=32), nullable=False),
        sa.Column("key_usage", sa.String(length=32), nullable=False),
        sa.Column("key_manager", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("deletion_date", cove.db.base.UtcDateTime(), nullable=True),
        sa.Column("pending_window_days", sa.Integer(), nullable=True),
        sa.Column("rotation_enabled", sa.Boolean(), nullable=False),
        sa.Column("rotation_period_days", sa.Integer(), nullable=True),
        sa.Column("next_rotation", cove.db.base.UtcDateTime(), nullable=True),
        sa.Column("on_demand_rotation_start", cove.db.base.UtcDateTime(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_kms_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kms_keys")),
        sa.UniqueConstraint("arn", name=op.f("uq_kms_keys_arn")),
    )
    with op.batch_alter_table("kms_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kms_keys_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kms_keys_region"), ["region"], unique=False)

    op.create_table(
        "kms_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("updated", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_kms_aliases_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["key_id"], ["kms_keys.id"], name=op.f("fk_kms_aliases_key_id_kms_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kms_aliases")),
        sa.UniqueConstraint("account_id", "region", "name", name=op.f("uq_kms_aliases_account_id")),
    )
    with op.batch_alter_table("kms_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kms_aliases_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kms_aliases_key_id"), ["key_id"], unique=False)

    op.create_table(
        "kms_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("grantee_principal", sa.String(length=2048), nullable=False),
        sa.Column("retiring_principal", sa.String(length=2048), nullable=True),
        sa.Column("issuing_account", sa.String(length=2048), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=True),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["kms_keys.id"], name=op.f("fk_kms_grants_key_id_kms_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kms_grants")),
    )
    with op.batch_alter_table("kms_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kms_grants_key_id"), ["key_id"], unique=False)

    op.create_table(
        "kms_key_material",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("rotation_type", sa.String(length=16), nullable=True),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["kms_keys.id"], name=op.f("fk_kms_key_material_key_id_kms_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", "version", name=op.f("pk_kms_key_material")),
    )


def downgrade() -> None:
    op.drop_table("kms_key_material")
    with op.batch_alter_table("kms_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kms_grants_key_id"))
    op.drop_table("kms_grants")
    with op.batch_alter_table("kms_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kms_aliases_key_id"))
        batch_op.drop_index(batch_op.f("ix_kms_aliases_account_id"))
    op.drop_table("kms_aliases")
    with op.batch_alter_table("kms_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kms_keys_region"))
        batch_op.drop_index(batch_op.f("ix_kms_keys_account_id"))
    op.drop_table("kms_keys")
