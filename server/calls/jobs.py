"""Saving a finished call: a Huey job, so the bridge hands the record over and goes."""

from __future__ import annotations

from typing import Any

from server.calls import service
from server.calls.dbthread import call_database_thread
from server.jobs import SqliteJobStore, huey, job


@job(retries=5, retry_delay=2)
def save_call(record: dict[str, Any]) -> None:
    service.off_loop(service.finish_call, record)


def hand_over(record: dict[str, Any]) -> None:
    """Queue the finished call to be saved; a SQLite queue's write (and fsync) leaves the hub too."""
    thread = call_database_thread()
    if thread is None or not isinstance(huey.storage, SqliteJobStore) or huey.immediate:
        save_call(record)
        return
    task = save_call.s(record)
    thread.enqueue(huey.name, huey.storage.filename, huey.serialize_task(task), task.priority)
