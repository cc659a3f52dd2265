"""The rate budgets' state in the store's database, for when Redis is not configured: the SQL of
`infra/rate_database.py`'s backend (infra may not import the store; definitions.py joins them).

Per budget key (an API credential's kind) one `rate_budget` row holds the 429 pause and the
interactive callers' demand as "until" times, and `rate_budget_log` one row per admitted request
(the sliding-window log, as in the Redis backend's script). Admitting is one transaction that
concurrent processes cannot interleave: on PostgreSQL the key's row is locked with
`SELECT ... FOR UPDATE`, on SQLite `BEGIN IMMEDIATE` takes the database's write lock first.
Times are milliseconds of the database server's clock on PostgreSQL (machines whose clocks
disagree share one timeline), of the host's on SQLite (one host).

pyrate-limiter has SQLite and PostgreSQL buckets, but neither fits: they create their own
tables outside the migrations, the SQLite one only locks within a process, neither keeps an
admitted request counted until its answer came (the hold below), and a bucket has no priorities
or pause. The decision mirrors `rate_backends._ADMIT` line for line, and also refuses while the
key is paused (the row is locked anyway, so a pause is seen by the very next admission).

A database that does not answer raises `BudgetStoreUnavailable` (a `ConnectionError`, which infra
knows without importing the store): the budget then falls back to its local share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.tables import rate_budget, rate_budget_log

T = TypeVar("T")
_log = rate_budget_log
# A budget must cost a request milliseconds when the database is gone or busy, never the minutes
# of a TCP timeout or a long lock: past these it falls back to the local budget.
_PG_CONNECT_TIMEOUT_S = 2
_PG_STATEMENT_TIMEOUT_MS = 2000
_SQLITE_BUSY_TIMEOUT_MS = 2000


class BudgetStoreUnavailable(ConnectionError):
    """The database did not answer (down, unreachable, or locked past the timeout)."""


def _pg_now() -> sa.ColumnElement[int]:
    # clock_timestamp(), not now(): now() is the transaction's start, before the lock wait.
    return sa.cast(
        sa.func.floor(sa.extract("epoch", sa.func.clock_timestamp()) * 1000), sa.BigInteger
    )


def _now(connection: sa.Connection) -> sa.ColumnElement[int]:
    """The clock, as SQL: the server's on PostgreSQL, this host's on SQLite (one host)."""
    if connection.dialect.name == "postgresql":
        return _pg_now()
    return sa.literal(int(time.time() * 1000), sa.BigInteger)


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # The store's file is in WAL mode already. NORMAL: a commit is not fsynced (a power cut may
    # forget the last admissions, which only makes the next window emptier than it was).
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _engine_for(url: str) -> sa.Engine:
    with _engines_lock:
        if url not in _engines:
            _engines[url] = _new_engine(url)
        return _engines[url]


def _new_engine(url: str) -> sa.Engine:
    """The budget's own small pool, with short timeouts (the store's engine waits 30 s)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    # synchronous_commit off: a commit does not wait for its WAL flush (a crash of the server may
    # forget the last admissions, like NORMAL on SQLite); still atomic, and it halved the time
    # of an admission on this machine's disk.
    timeout = _PG_STATEMENT_TIMEOUT_MS
    options = f"-c statement_timeout={timeout} -c lock_timeout={timeout} -c synchronous_commit=off"
    connect_args: dict[str, object] = {"options": options}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = _PG_CONNECT_TIMEOUT_S
    # No pre-ping: a dead connection fails the operation, the budget falls back, and SQLAlchemy
    # drops the pool on the disconnect, so the next probe connects afresh.
    return sa.create_engine(url, pool_size=2, max_overflow=8, connect_args=connect_args)


class DatabaseRateLog:
    """The SQL of the database budget for one store URL: the operations of `rate_backends.Backend`
    on plain values (milliseconds, members), each one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._migrated = False

    def _engine(self) -> sa.Engine:
        engine = _engine_for(self.url)
        if not self._migrated:
            # The budget's short timeouts first, then the store's migration (its engine would wait
            # for a dead server as long as the operating system lets it).
            with engine.connect():
                pass
            store_engine.get_engine(self.url)
            self._migrated = True
        return engine

    def _call(self, op: Callable[[sa.Connection], T], *, lock_key: str | None = None) -> T:
        """`op` in one transaction after locking `lock_key`'s row; without a key, `op` is one
        statement and runs in autocommit (on PostgreSQL a transaction costs two round trips
        more)."""
        try:
            with self._engine().connect() as connection:
                if lock_key is None:
                    return op(connection.execution_options(isolation_level="AUTOCOMMIT"))
                with connection.begin():
                    if connection.dialect.name == "sqlite":
                        # pysqlite begins lazily and DEFERRED; IMMEDIATE takes the write lock
                        # before the first read, so two processes never count the same free slot.
                        connection.exec_driver_sql("BEGIN IMMEDIATE")
                    _lock_key(connection, lock_key)
                    return op(connection)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise BudgetStoreUnavailable(f"database: {reason}") from exc

    def admit(self, key: str, rates: Sequence[tuple[int, int]], hold_ms: int, member: str) -> int:
        """Admit `member` under every `(interval_ms, limit)` of `rates`: 0 when admitted (its entry
        counts as in flight for `hold_ms`, until `restamp`), else the milliseconds before asking
        again."""

        def op(connection: sa.Connection) -> int:
            # Read after the lock: every admission and pause committed before it is seen.
            now, paused_until, stamps = _log_of(connection, key)
            if paused_until > now:
                # A 429 came since this process last looked: nobody is admitted until it ends.
                return paused_until - now
            longest = 0
            for interval, limit in rates:
                longest = max(longest, interval)
                inside = [s for s in stamps if s >= now - interval]
                if len(inside) >= limit:
                    at = inside[len(inside) - limit]
                    # Still in flight: it frees a window after its answer, not known yet; look
                    # again after a share of the window.
                    if at > now:
                        return max(1, interval // limit)
                    return max(1, at + interval - now + 1)
            if stamps and stamps[0] < now - longest:
                connection.execute(
                    sa.delete(_log).where(_log.c.key == key, _log.c.stamp_ms < now - longest)
                )
            connection.execute(
                sa.insert(_log).values(key=key, member=member, stamp_ms=now + hold_ms)
            )
            return 0

        return self._call(op, lock_key=key)

    def restamp(self, key: str, member: str, backdate_ms: int = 0) -> None:
        """The request's answer came: its entry counts from now, less `backdate_ms` (if a leak
        has not dropped it)."""
        self._call(
            lambda c: c.execute(
                sa.update(_log)
                .where(_log.c.key == key, _log.c.member == member)
                .values(stamp_ms=_now(c) - backdate_ms)
            )
        )

    def timers_ms(self, key: str) -> tuple[int, int]:
        """Milliseconds left of the key's 429 pause and of its announced interactive demand
        (0: none), in one read."""

        def op(connection: sa.Connection) -> tuple[int, int]:
            now = _now(connection)
            row = connection.execute(
                sa.select(
                    rate_budget.c.paused_until_ms - now, rate_budget.c.demand_until_ms - now
                ).where(rate_budget.c.key == key)
            ).first()
            return (0, 0) if row is None else (max(0, int(row[0])), max(0, int(row[1])))

        return self._call(op)

    def pause(self, key: str, ms: int) -> None:
        """Nobody draws from `key` for `ms`; a longer pause already set is kept."""

        def op(connection: sa.Connection) -> None:
            column = rate_budget.c.paused_until_ms
            statement = _insert(connection).values(key=key, paused_until_ms=_now(connection) + ms)
            later = statement.excluded.paused_until_ms
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"paused_until_ms": sa.case((column < later, later), else_=column)},
                )
            )

        # One statement, no lock taken first: the pause must land even while admissions queue.
        self._call(op)

    def announce(self, key: str, ms: int) -> None:
        """An interactive caller waits on `key` for about `ms`: bulk callers yield meanwhile."""

        def op(connection: sa.Connection) -> None:
            statement = _insert(connection).values(key=key, demand_until_ms=_now(connection) + ms)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"demand_until_ms": statement.excluded.demand_until_ms},
                )
            )

        self._call(op)


def _insert(connection: sa.Connection) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(rate_budget)


def _log_of(connection: sa.Connection, key: str) -> tuple[int, int, list[int]]:
    """The clock now, the key's pause end and its log, oldest first, in one round trip (the
    clock and the pause come back with every row, and alone when the log is empty)."""
    now = _now(connection).label("now")
    rows = connection.execute(
        sa.select(now, rate_budget.c.paused_until_ms, _log.c.stamp_ms)
        .select_from(rate_budget.outerjoin(_log, _log.c.key == rate_budget.c.key))
        .where(rate_budget.c.key == key)
        .order_by(_log.c.stamp_ms)
    ).all()
    stamps = [r.stamp_ms for r in rows if r.stamp_ms is not None]
    return int(rows[0].now), int(rows[0].paused_until_ms), stamps


def _lock_key(connection: sa.Connection, key: str) -> None:
    """Lock the key's row for this transaction, creating it first if it is new."""
    query = sa.select(rate_budget.c.key).where(rate_budget.c.key == key)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    if connection.scalar(query) is not None:
        return
    # Two processes creating the same key: the second waits for the first's commit, then skips.
    connection.execute(_insert(connection).values(key=key).on_conflict_do_nothing())
    connection.scalar(query)


def dispose_all() -> None:
    """Close the budgets' pooled connections (tests drop their databases afterwards)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
