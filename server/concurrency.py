"""Run CPU-heavy or blocking C calls off the gevent hub so one request never stalls the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def under_gevent() -> bool:
    """True in gunicorn's gevent worker (the socket module is monkey-patched)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        return False
    return bool(monkey.is_module_patched("socket"))


def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Under the gevent worker, run fn in gevent's native thread pool; else call it directly.

    For C calls that release the GIL but would hold the hub: argon2 hashing (~50 ms of CPU), a
    SQLite statement waiting for the write lock. On the hub they freeze every WebSocket relay in
    the worker for that long.
    """
    if under_gevent():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)  # type: ignore[no-any-return]
    return fn(*args)
