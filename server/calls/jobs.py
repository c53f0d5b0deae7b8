"""Saving a finished call: a Huey job, so the bridge hands the record over and goes."""

from __future__ import annotations

from typing import Any

from server.calls import service
from server.jobs import job


@job(retries=5, retry_delay=2)
def save_call(record: dict[str, Any]) -> None:
    service.off_loop(service.finish_call, record)
