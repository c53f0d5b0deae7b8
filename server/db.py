"""Engine, session scope and the declarative Base; nothing domain-specific."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, Insert, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back timezone-aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_or_nothing(table: Table, *keys: str) -> dict[str, Insert]:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for each dialect, by its name: a row that is already
    there is no error and returns no row (RETURNING), without a savepoint around it."""
    return {
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(index_elements=keys),
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(index_elements=keys),
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        # A small pool: opening and closing a SQLite file per request (WAL pragmas, fsync on close)
        # cost ~10 ms a request. Each greenlet checks out its own connection, never shares one.
        kwargs["poolclass"] = QueuePool
        kwargs["pool_size"] = 8
        kwargs["max_overflow"] = 24
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        # No server-side prepared statements: after five runs PostgreSQL may switch a prepared
        # statement to a generic plan, and a generic plan for `search_text LIKE $1` cannot use the
        # trigram index well (measured: search p95 573 ms prepared, 3 ms unprepared at 100k leads).
        # A database host that does not answer fails a connection in 5 s (readyz, requests) instead of
        # the operating system's TCP timeout of minutes.
        # No parallel query: every request is a short indexed LIMIT query, where starting workers costs
        # more than it saves (a tag-filtered leads page: 10.7 ms with two workers, 1.1 ms without).
        kwargs["connect_args"] = {
            "prepare_threshold": None,
            "connect_timeout": 5,
            "options": "-c max_parallel_workers_per_gather=0",
        }
        # No ping per checkout (a round trip on every request); after a database restart the first
        # request on a dead connection fails and SQLAlchemy discards the whole pool.
        kwargs["pool_recycle"] = 1800
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


# Bound in init_db(); greenlet-local under gevent's monkey-patching (threading.local is patched).
SessionFactory = sessionmaker(expire_on_commit=False)
db_session: scoped_session[Session] = scoped_session(SessionFactory)
_engine: Engine | None = None


def in_own_session(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` on this greenlet's scoped session and drop the session afterwards, whatever happens
    (closing it rolls back what `fn` did not commit and gives the connection back): for work outside
    a request (jobs, the calls' database work, timers)."""
    try:
        return fn(*args, **kwargs)
    finally:
        db_session.remove()


def init_db(url: str) -> Engine:
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = make_engine(url)
    SessionFactory.configure(bind=_engine)
    return _engine


def is_initialised() -> bool:
    return _engine is not None


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("init_db() has not been called")
    return _engine


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for work outside a request (CLI, jobs): commit on success, roll back on error."""
    session = SessionFactory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
