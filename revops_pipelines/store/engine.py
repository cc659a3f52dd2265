"""One database URL, one engine per URL, and migrations that run before first use."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

# Alembic is imported when a migration runs: loading the definitions must not load it.
if TYPE_CHECKING:
    from alembic.config import Config

DATABASE_URL_ENV = "REVOPS_DATABASE_URL"
STATE_DIR_ENV = "REVOPS_STATE_DIR"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed number works: it only has to be the same in every process that migrates this database.
_PG_MIGRATION_LOCK = 0x5245564F5053


def state_dir() -> Path:
    """Where zero-set-up local state lives (`.revops/` under the working directory by default)."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".revops")


def database_url() -> str:
    """`REVOPS_DATABASE_URL`, or a SQLite file under the state directory."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    path = state_dir() / "revops.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets the receiver write while a run reads; busy_timeout waits out the other writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@functools.cache
def _engine_for(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def get_engine(url: str | None = None) -> sa.Engine:
    """The shared engine for `url` (default: `database_url()`), migrated to the latest revision."""
    resolved = url or database_url()
    engine = _engine_for(resolved)
    _ensure_migrated(resolved)
    return engine


_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def _ensure_migrated(url: str) -> None:
    if url in _migrated:
        return
    with _migrate_lock:
        if url not in _migrated:
            upgrade(url)
            _migrated.add(url)


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _engine_for(url or database_url()).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Safe to call from several processes at once."""
    from alembic import command

    engine = _engine_for(url or database_url())
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting together (receiver and a run) must not both create tables.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
            )
        command.upgrade(_alembic_config(connection), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    engine = _engine_for(url or database_url())
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


@contextmanager
def transaction(url: str | None = None) -> Iterator[sa.Connection]:
    """A connection inside one transaction: committed on success, rolled back on error."""
    with get_engine(url).begin() as connection:
        yield connection


def dispose(url: str) -> None:
    """Close the pooled connections of `url` and migrate it again on next use (its SQLite file
    is about to be replaced: a pooled connection would keep writing to the removed file)."""
    _engine_for(url).dispose()
    with _migrate_lock:
        _migrated.discard(url)


def dispose_all() -> None:
    """Close pooled connections (tests drop their databases afterwards)."""
    for url in list(_migrated):
        _engine_for(url).dispose()
    _engine_for.cache_clear()
    _migrated.clear()


def ping(engine: sa.Engine) -> None:
    """One round trip to the database (`SELECT 1`); raises when it is unreachable."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
