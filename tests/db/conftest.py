"""A throw-away PostgreSQL cluster for the test session, started from the installed server binaries."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

try:
    import psycopg
    from psycopg import sql
except ImportError:  # the `postgres` extra is optional on developer machines
    psycopg = None  # type: ignore[assignment]

from cove.server import free_port

__all__ = ["PostgresCluster", "find_bindir", "fresh_postgres_url", "postgres_cluster", "postgres_url"]

_INSTALL_HINT = (
    "install the server with `apt-get install postgresql` on Debian/Ubuntu "
    "(`make test` does it when run as root)"
)
# The cluster lives only as long as the session, so durability is traded for start-up and test speed.
# A server time zone far from UTC makes any naive/aware datetime mix-up show in the tests.
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c timezone=Pacific/Kiritimati "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=50 -c shared_buffers=16MB"
)
_SUPERUSER = "postgres"


def _unavailable(reason: str) -> NoReturn:
    # CI must exercise PostgreSQL, so a missing server there is a failure rather than a quiet skip.
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _version(bindir: Path) -> tuple[int, ...]:
    name = bindir.parent.name
    return tuple(int(part) for part in name.split(".")) if name.replace(".", "").isdigit() else (0,)


def find_bindir() -> Path | None:
    """The newest Debian-packaged server, else one on PATH (developer machines, Homebrew)."""
    packaged = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    packaged = [b for b in packaged if (b / "initdb").is_file()]
    if packaged:
        return max(packaged, key=_version)
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).parent / "initdb").is_file():
        return Path(on_path).parent
    return None


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path
    port: int
    prefix: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # pg_ctl hands the server's output to the log file, so no pipe is left open behind it.
        return subprocess.run(
            [*self.prefix, *args], cwd=self.root, capture_output=True, text=True, timeout=60, check=False
        )

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._maintenance(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # FORCE ends connections a failed test left open (PostgreSQL 13+).
        self._maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _maintenance(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction, hence autocommit on the `postgres` database.
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=_SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)

    def start(self) -> None:
        init = self.run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}{init.stderr}")
        # free_port() can race with another process; a few fresh ports make that harmless.
        for _attempt in range(3):
            self.port = free_port()
            options = f"{_SERVER_OPTIONS} -c port={self.port} -c unix_socket_directories={self.root}"
            started = self.run(
                str(self.bindir / "pg_ctl"),
                *("-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "20", "start"),
            )
            if started.returncode == 0:
                return
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}{started.stderr}\n{log[-4000:]}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


def _owner_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """PostgreSQL refuses to run as root: as root, run it as the unprivileged ``postgres`` user."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        _unavailable(
            f"running as root and there is no `postgres` OS user to own the cluster; {_INSTALL_HINT}"
        )
    runuser = shutil.which("runuser")
    if runuser is None:
        _unavailable("running as root and `runuser` (util-linux) is missing to drop to the `postgres` user")
    return [runuser, "-u", owner.pw_name, "--"], owner


_DIR_PREFIX = "cove-pg-"


def _reap_stale_clusters(bindir: Path, prefix: list[str]) -> None:
    """Stop and remove clusters left by test runs that were killed before their teardown."""
    for root in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*-*"):
        pid = root.name[len(_DIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if (root / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"],
                cwd=root,
                capture_output=True,
                timeout=30,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A private cluster (trust auth, 127.0.0.1 only) with a ``cove`` database; removed at the end."""
    bindir = find_bindir()
    if bindir is None:
        _unavailable(f"no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH; {_INSTALL_HINT}")
    if psycopg is None:
        _unavailable("psycopg is not installed; `pip install -e '.[postgres]'`")
    prefix, owner = _owner_prefix()
    _reap_stale_clusters(bindir, prefix)
    # Not under pytest's basetemp: that is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-"))
    cluster = PostgresCluster(bindir=bindir, root=root, port=0, prefix=prefix)
    try:
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster.start()
        cluster.create_database("cove")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT/cove``, shared by the whole session."""
    return postgres_cluster.url("cove")


_databases = itertools.count(1)


@pytest.fixture
def fresh_postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards (even with connections left open)."""
    name = f"cove_test_{os.getpid()}_{next(_databases)}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)
