"""Database.snapshot(): every read of the unit of work sees the same committed state."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from cove.db import Database


def test_reads_in_a_snapshot_do_not_see_later_commits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with db.snapshot() as snapshot:
        before = snapshot.execute(text("SELECT count(*) FROM t")).scalar()
        with db.session() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
        during = snapshot.execute(text("SELECT count(*) FROM t")).scalar()
    with db.read() as plain:
        after = plain.execute(text("SELECT count(*) FROM t")).scalar()
    db.dispose()
    assert (before, during, after) == (0, 0, 1)
