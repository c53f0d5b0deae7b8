"""A call's SQLite work on a native thread of its own, so it never holds the gevent hub.

SQLite's calls block in C: a statement waits up to busy_timeout while another connection writes, a
commit waits for its fsync. On the hub that freezes every call's audio in the worker. PostgreSQL's
driver waits cooperatively and needs none of this.

Nothing here shares a lock with the hub's greenlets: gevent-patched locks waited on across a native
thread and greenlets (SQLAlchemy's pool, Huey's storage lock) deadlock — measured: two threads of the
hub's pool parked for good on Huey's storage lock while five calls ended at once. So: one thread,
an engine only it uses (its pool lock is never contended), and its own handle on the job queue's
SQLite file for the call-saving job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gevent.threadpool import ThreadPool
from sqlalchemy import Engine

from server.concurrency import under_gevent
from server.db import SessionFactory, db_session, get_engine, in_own_session, make_engine
from server.jobs import SqliteJobStore

T = TypeVar("T")


class CallDatabaseThread:
    def __init__(self) -> None:
        self.pool = ThreadPool(1)
        self._engine: Engine | None = None  # made and used on the thread only
        self._queues: dict[tuple[str, str], SqliteJobStore] = {}

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the thread, with a session of its own; the calling greenlet waits, the hub runs."""
        return self.pool.apply(self._in_session, (fn, *args))  # type: ignore[no-any-return]

    def enqueue(self, queue_name: str, filename: str, message: bytes, priority: int | None) -> None:
        """Write a serialized job into the SQLite job queue file through this thread's own handle."""
        self.pool.apply(self._enqueue, (queue_name, filename, message, priority))

    def _in_session(self, fn: Callable[..., T], *args: Any) -> T:
        url = get_engine().url.render_as_string(hide_password=False)
        if self._engine is None or self._engine.url.render_as_string(hide_password=False) != url:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = make_engine(url)
        # The scoped session is per thread here (threading.local is greenlet-local under gevent, and
        # this thread is one greenlet): bind it to this thread's engine, and drop it afterwards.
        db_session.registry.set(SessionFactory(bind=self._engine))
        return in_own_session(fn, *args)

    def _enqueue(self, queue_name: str, filename: str, message: bytes, priority: int | None) -> None:
        storage = self._queues.get((queue_name, filename))
        if storage is None:
            storage = self._queues[(queue_name, filename)] = SqliteJobStore(queue_name, filename=filename)
        storage.enqueue(message, priority)


_thread: CallDatabaseThread | None = None


def call_database_thread() -> CallDatabaseThread | None:
    """The worker's call-database thread under gevent, else None (tests call the work directly).

    Made at first use, in gunicorn's worker (after the fork); a greenlet makes it without yielding.
    """
    global _thread
    if not under_gevent():
        return None
    if _thread is None:
        _thread = CallDatabaseThread()
    return _thread


def database_blocks() -> bool:
    """SQLite's calls block in C; PostgreSQL's driver waits cooperatively under gevent."""
    return get_engine().dialect.name == "sqlite"
