"""Run CPU-heavy or blocking C calls off the gevent hub so one request never stalls the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        return False
    return bool(monkey.is_module_patched("socket"))


def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Under the gevent worker, run fn in gevent's native thread pool; else call it directly.

    argon2 hashing takes ~50 ms of CPU in C with the GIL released: on the hub it would freeze
    every WebSocket relay in the worker for that long.
    """
    if _patched():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)  # type: ignore[no-any-return]
    return fn(*args)
