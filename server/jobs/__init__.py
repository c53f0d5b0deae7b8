"""Background jobs with Huey: the one job library for reminders, AI replies, sends and calls.

Storage: SQLite (instance/jobs.db, or JOBS_SQLITE_PATH) with the consumer running inside the single
gunicorn worker as greenlets (server/wsgi.py starts it); Redis when REDIS_URL is set, with separate
consumers (`huey_consumer server.jobs.worker.huey -k greenlet -w 16`). Tests switch to immediate mode.
"""

from __future__ import annotations

import atexit
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from huey import Huey, RedisHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from server.db import in_own_session, init_db, is_initialised
from server.settings import INSTANCE_DIR, load_settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


class SqliteJobStore(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite store with the application database's durability: WAL with synchronous=NORMAL.
    Huey's default (synchronous=FULL) syncs the disk on every commit, and a reply's job takes several
    (enqueue, dequeue, schedule, run): 24 % of the web worker's time at 200 messages/s
    (bench/whatsapp.py), stalling every request behind each sync. NORMAL keeps what a crashed process
    committed; a crashed machine may lose the last moments, which the periodic sweeps find again."""

    def _create_connection(self) -> Any:
        connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


def _make_huey() -> Huey:
    settings = load_settings()
    if settings.redis_url:
        return RedisHuey("crm-jobs", url=settings.redis_url, utc=True)
    path = Path(settings.jobs_sqlite_path or INSTANCE_DIR / "jobs.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return Huey("crm-jobs", storage_class=SqliteJobStore, filename=str(path), utc=True)


huey: Huey = _make_huey()


@huey.on_startup()
def _connect_database() -> None:
    """An external consumer process has no Flask app: bind the database engine once."""
    if not is_initialised():
        init_db(load_settings().database_url)


def job(**task_options: Any) -> Callable[[F], Any]:
    """@job(retries=3, retry_delay=5): a Huey task whose database session is cleaned up after it."""

    def decorate(fn: F) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return in_own_session(fn, *args, **kwargs)

        return huey.task(**task_options)(run)

    return decorate


def periodic(validate_datetime: Callable[..., bool], **task_options: Any) -> Callable[[F], Any]:
    def decorate(fn: F) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return in_own_session(fn, *args, **kwargs)

        return huey.periodic_task(validate_datetime, **task_options)(run)

    return decorate


# Tasks enqueued once each time the embedded consumer starts (e.g. the sweep for reminders that came
# due while the server was down). A separate huey_consumer gets the same from its scheduler, which
# enqueues every-minute periodic tasks on its first loop.
_startup_tasks: list[Any] = []


def on_consumer_start(task: Any) -> Any:
    """Decorate a @job/@periodic task: it is also enqueued right after the embedded consumer starts."""
    _startup_tasks.append(task)
    return task


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer as greenlets inside the gunicorn worker; gunicorn keeps its own signals."""

    def _set_signal_handlers(self) -> None:
        pass


_consumer: _EmbeddedConsumer | None = None


def start_embedded_consumer(workers: int = 8) -> None:
    global _consumer
    if _consumer is not None or huey.immediate:
        return
    _consumer = _EmbeddedConsumer(
        huey,
        workers=workers,
        worker_type="greenlet",
        periodic=True,
        initial_delay=0.05,
        backoff=1.2,
        max_delay=0.5,
        scheduler_interval=1,
        check_worker_health=False,
    )
    _consumer.start()
    atexit.register(_consumer.stop, graceful=False)
    for task in _startup_tasks:
        task()
    log.info("embedded job consumer started (%s greenlets)", workers)
