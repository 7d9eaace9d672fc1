"""Imports every service's tables so ``Base.metadata`` is complete (alembic, create_all)."""

from cove.services.iam import tables as iam_tables

__all__ = ["iam_tables"]
