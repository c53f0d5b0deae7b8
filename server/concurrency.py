"""Run CPU-heavy or blocking C calls off the gevent hub so one request never stalls the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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


_turn: Any = None  # one background task at a time waits for the idle loop (a gevent semaphore)
# Seconds: past this, background work goes on anyway (the wait for the turn counts). The limit bounds
# how long a worker that is never idle delays a reply's stretch, not how often replies run: with
# 0.05 s every waiting reply (32 slots) forced its stretch each 50 ms, and near saturation the
# replies due together took the core from the webhooks (bench/whatsapp.py, Twilio, 60 s at 367/s,
# 89 % of a core: ack p99 43 ms, max 197 ms with 0.05 s; 12 ms, max 35 ms with 1 s). At 206/s (69 %
# of a core) both gave p99 8-9 ms. (0.5 s had left lines unanswered when each arming was its own
# backup job, a costlier reply: see check_replies.)
IDLE_WAIT_LIMIT = 1.0


def yield_to_requests() -> None:
    """Background work in the web worker (AI replies, sends) calls this before a stretch of CPU.
    Under gevent it returns once the event loop has nothing else ready to run: a webhook that has
    arrived is read and answered first. Returns at once outside gevent."""
    if under_gevent():
        wait_for_idle_loop()


def wait_for_idle_loop(limit: float | None = None) -> None:
    """Until gevent's loop has no socket, timer or greenlet ready (gevent.idle), at most `limit`
    seconds (IDLE_WAIT_LIMIT). One caller at a time waits for the idle moment: the background work
    that resumes there is one stretch, not every waiting task at once."""
    import gevent
    from gevent.lock import Semaphore

    global _turn
    if _turn is None:
        _turn = Semaphore(1)
    with gevent.Timeout(IDLE_WAIT_LIMIT if limit is None else limit, False), _turn:
        gevent.idle()
