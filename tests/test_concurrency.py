"""Background work in the web worker gives way to requests (server.concurrency.wait_for_idle_loop),
on gevent's real loop."""

from __future__ import annotations

import time

import gevent

from server.concurrency import wait_for_idle_loop


def test_background_work_waits_until_the_ready_requests_have_run() -> None:
    order: list[str] = []

    def background() -> None:
        wait_for_idle_loop()
        order.append("background")

    waiting = gevent.spawn(background)
    requests = [gevent.spawn(order.append, f"request {n}") for n in range(3)]
    gevent.joinall([waiting, *requests], timeout=5)
    assert order == ["request 0", "request 1", "request 2", "background"]


def test_waiting_tasks_resume_one_at_a_time_and_a_request_arriving_in_between_goes_first() -> None:
    order: list[str] = []

    def first() -> None:
        wait_for_idle_loop()
        order.append("first")
        gevent.spawn(order.append, "request")  # arrives while the first task runs

    def second() -> None:
        wait_for_idle_loop()
        order.append("second")

    tasks = [gevent.spawn(first), gevent.spawn(second)]
    gevent.joinall(tasks, timeout=5)
    gevent.sleep(0)
    assert order == ["first", "request", "second"]


def test_a_loop_that_is_never_idle_delays_background_work_only_up_to_the_limit() -> None:
    busy = True

    def spinner() -> None:
        while busy:
            gevent.sleep(0)  # always a greenlet ready: the loop is never idle

    spinning = gevent.spawn(spinner)
    gevent.sleep(0)
    began = time.monotonic()
    wait_for_idle_loop(limit=0.2)
    waited = time.monotonic() - began
    busy = False
    spinning.join(timeout=5)
    assert 0.15 < waited < 2
