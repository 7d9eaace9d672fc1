"""Persistence: SQLAlchemy 2.0 engine and sessions, alembic migrations."""

from cove.db.base import Base, utcnow
from cove.db.engine import Database

__all__ = ["Base", "Database", "utcnow"]
