"""Outbound sends: a status callback racing our own commit, errors of every kind ending in a visible
state, Meta's retries, failures and template payload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.db import SessionFactory, get_engine
from server.whatsapp.models import Message
from tests.fakes import whatsapp_twilio as twilio
from tests.whatsapp.conftest import WA

STATUS_PATH = "/webhook/whatsapp/twilio/status"


@contextmanager
def callback_during_our_commit(wa: WA, status: str, order: str) -> Iterator[dict[str, Any]]:
    """When the send's commit stores the provider's id, Twilio's status callback for that id arrives
    on another connection: it looks the message up before our commit is visible, and commits its
    event either before our commit ("callback_first") or after we are completely done ("send_first")."""
    main = threading.current_thread()
    looked_up, send_done = threading.Event(), threading.Event()
    state: dict[str, Any] = {"fired": False, "response": None}

    def post_callback(sid: str) -> None:
        response = wa.twilio(twilio.status_form(sid, status), path=STATUS_PATH)
        state["response"] = response.status_code

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The callback has done its lookup of the message once it writes its intake row.
        if threading.current_thread() is not main and statement.lstrip().upper().startswith(
            "INSERT INTO INBOUND_EVENTS"
        ):
            looked_up.set()

    def before_commit(session: Session) -> None:
        if threading.current_thread() is not main:
            if order == "send_first":
                assert send_done.wait(10), "the send never finished"
            return
        sends = wa.fakes.twilio.sends
        if state["fired"] or not sends:
            return
        sid = sends[-1].sid
        if not any(
            isinstance(o, Message) and o.provider_message_id == sid for o in session.identity_map.values()
        ):
            return
        state["fired"] = True
        session.flush()  # our write is in the database, not yet committed
        thread = threading.Thread(target=post_callback, args=(sid,))
        state["thread"] = thread
        thread.start()
        assert looked_up.wait(10), "the callback never looked the message up"
        if order == "callback_first":
            thread.join(10)  # its event is committed before ours

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(SessionFactory, "before_commit", before_commit)
    try:
        yield state
    finally:
        send_done.set()
        if "thread" in state:
            state["thread"].join(15)
        event.remove(SessionFactory, "before_commit", before_commit)
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


@pytest.mark.parametrize("order", ["send_first", "callback_first"])
def test_a_status_callback_arriving_during_our_commit_is_applied(wa: WA, order: str) -> None:
    if order == "callback_first" and get_engine().dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: the callback cannot commit inside our transaction")
    with callback_during_our_commit(wa, "delivered", order) as state:
        assert wa.twilio_text("מתי אתם פתוחים?").status_code == 200
    assert state["fired"] and state["response"] == 200
    reply = wa.messages(wa.conversation(wa.world.business_a).id)[-1]
    assert reply.provider_message_id == wa.fakes.twilio.sends[-1].sid
    assert reply.status == "delivered"
