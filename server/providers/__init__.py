"""Thin clients for the outside world (Twilio, OpenAI, Meta). They never touch the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from functools import cache, wraps
from typing import TypeVar

T = TypeVar("T")


def built_once(factory: Callable[..., T]) -> Callable[..., T]:
    """functools.cache for a client (and its connection pool), one per arguments even when the first
    callers come together: with cache alone, 24 replies sending at once in a fresh worker built 24
    Twilio clients, and kept one (tests/whatsapp/test_delivery.py)."""
    cached = cache(factory)
    lock = threading.Lock()  # gevent's under the gevent worker (monkey-patched)

    @wraps(factory)
    def get(*args: Hashable) -> T:
        with lock:
            return cached(*args)

    return get
