"""Engine and session factory; SQLite gets WAL and enforced foreign keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: every Cove process sharing a PostgreSQL database takes the same one.
_STARTUP_LOCK = 0x636F7665


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL makes NORMAL durable against application crashes; only an OS crash can lose the last commit.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest alembic revision (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url)
        cfg.attributes["connection_engine"] = self.engine
        command.upgrade(cfg, "head")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Serialise start-up (migrations, seeding) among processes sharing one PostgreSQL database;
        without it, concurrent first starts race to create the same tables and rows. SQLite databases
        belong to one state directory, so there it does nothing."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        # A session-level advisory lock on a connection of its own; the server drops it if we die.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _STARTUP_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _STARTUP_LOCK})

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back on any error."""
        with self._factory.begin() as session:
            yield session

    def read(self) -> Session:
        return self._factory()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only unit of work whose reads all see one committed state. SQLite's driver opens
        a transaction only before a write, so each read of a plain session may see a different
        commit (a row's children deleted between two SELECTs); an explicit BEGIN pins one WAL
        snapshot. PostgreSQL gets REPEATABLE READ for the same guarantee."""
        session = self._factory()
        try:
            if self.engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN")
            else:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
