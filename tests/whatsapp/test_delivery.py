"""Outbound sends: a status callback racing our own commit, errors of every kind ending in a visible
state, Meta's retries, failures and template payload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.db import SessionFactory, db_session, get_engine, utcnow
from server.whatsapp.models import Message
from tests.fakes import whatsapp_meta as meta
from tests.fakes import whatsapp_twilio as twilio
from tests.whatsapp.conftest import CUSTOMER, NUMBER_A, PNID_A, TOKEN_A, WA

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


# ---------------------------------------------------------------- every error ends in a visible state


def _last(wa: WA, business_id: int, phone: str = CUSTOMER) -> Message:
    return wa.messages(wa.conversation(business_id, phone).id)[-1]


def _failed_listing(wa: WA) -> list[int]:
    return [c["id"] for c in wa.world.as_("business_a").get("/api/conversations?failed=true").json["items"]]


def test_an_unreadable_provider_answer_fails_the_ai_reply_visibly(wa: WA) -> None:
    # A 201 whose body is not Twilio's JSON (a proxy's page): the message may exist at Twilio, so it
    # is not sent again blindly; it fails with the reason instead of staying "queued".
    wa.fakes.twilio.raw_next.append((201, "<html>upstream says hi</html>"))
    assert wa.twilio_text("שלום").status_code == 200
    wa.run_scheduled()
    reply = _last(wa, wa.world.business_a)
    assert (reply.author, reply.status, reply.error_code) == ("ai", "failed", "provider_unreadable")
    assert "may have been sent" in (reply.error_message or "")
    assert _failed_listing(wa) == [reply.conversation_id]


def test_a_key_that_cannot_decrypt_the_meta_token_fails_the_send_at_once(wa: WA) -> None:
    from cryptography.fernet import Fernet

    from server.business.models import Business

    business = db_session.get(Business, wa.world.business_a)
    assert business is not None
    business.meta_access_token_encrypted = Fernet(Fernet.generate_key()).encrypt(b"EAAG-x").decode()
    db_session.commit()
    contacts = [meta.contact("972501234567", "דנה")]
    assert (
        wa.meta(
            meta.webhook([meta.change(PNID_A, [meta.text_message("972501234567", "היי")], contacts=contacts)])
        ).status_code
        == 200
    )
    assert wa.run_scheduled() == 0  # not retried: another try cannot help
    reply = _last(wa, wa.world.business_a)
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", "encryption_key", 1)
    assert "DATA_ENCRYPTION_KEY" in (reply.error_message or "") and wa.fakes.meta.sends == []


def test_an_unexpected_error_in_a_send_is_retried_then_failed(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.providers import twilio_whatsapp

    wa.twilio_text("היי")
    conversation_id = wa.conversation(wa.world.business_a).id

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(twilio_whatsapp, "send", broken)
    api = wa.world.as_("business_a")
    queued = api.post(f"/api/conversations/{conversation_id}/messages", {"text": "תשובה"})
    assert queued.status_code == 201
    assert wa.run_scheduled() == 4
    failed = _last(wa, wa.world.business_a)
    assert failed.id == queued.json["id"] and failed.attempts == 5
    assert (failed.status, failed.error_code) == ("failed", "internal_error")
    assert "RuntimeError: something nobody expected" in (failed.error_message or "")


def test_an_unexpected_error_while_composing_is_retried_then_a_visible_failure(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.whatsapp import replies

    def broken(*_args: Any) -> str:
        raise RuntimeError("prompt store unavailable")

    monkeypatch.setattr(replies.business_service, "whatsapp_prompt_for", broken)
    assert wa.twilio_text("יש מישהו?").status_code == 200
    assert wa.run_scheduled() == 3
    failure = _last(wa, wa.world.business_a)
    assert (failure.kind, failure.status, failure.error_code) == ("ai_reply", "failed", "internal_error")
    assert "prompt store unavailable" in (failure.error_message or "")
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.reply_armed_at is None and conversation.reply_lease_until is None
    assert _failed_listing(wa) == [conversation.id] and wa.fakes.ai.calls == []


# ---------------------------------------------------------------- Meta: retries, failures, templates


def _meta_text(wa: WA, body: str, wa_id: str = "972501234567") -> None:
    contacts = [meta.contact(wa_id, "דנה")]
    payload = meta.webhook([meta.change(PNID_A, [meta.text_message(wa_id, body)], contacts=contacts)])
    assert wa.meta(payload).status_code == 200


def test_meta_5xx_and_rate_limits_are_retried_then_sent(wa: WA) -> None:
    wa.fakes.meta.fail_next.extend([(500, 2), (400, 130429), (503, 131016)])
    _meta_text(wa, "שלום")
    assert wa.fakes.meta.sends == []
    assert wa.run_scheduled() == 3
    [sent] = wa.fakes.meta.sends
    reply = _last(wa, wa.world.business_a)
    assert (reply.status, reply.attempts, reply.provider_message_id) == ("queued", 4, sent["id"])
    assert reply.error_code is None and reply.error_message is None
    assert len(wa.fakes.meta.requests) == 4


def test_a_meta_refusal_fails_at_once_and_an_outage_after_the_last_retry(wa: WA) -> None:
    wa.fakes.meta.fail_next.append((400, 131047))  # re-engagement: outside the 24-hour window
    _meta_text(wa, "שלום")
    assert wa.run_scheduled() == 0
    refused = _last(wa, wa.world.business_a)
    assert (refused.status, refused.error_code, refused.attempts) == ("failed", "131047", 1)
    assert "Meta refused the message" in (refused.error_message or "")

    wa.fakes.meta.fail_next.extend([(500, 2)] * 5)
    conversation_id = refused.conversation_id
    api = wa.world.as_("business_a")
    queued = api.post(f"/api/conversations/{conversation_id}/messages", {"text": "ננסה"}).json
    assert wa.run_scheduled() == 4
    down = _last(wa, wa.world.business_a)
    assert (down.id, down.status, down.attempts, down.error_code) == (queued["id"], "failed", 5, "2")
    assert wa.fakes.meta.sends == []
    assert _failed_listing(wa) == [conversation_id]


def test_a_meta_template_is_sent_in_the_graph_apis_shape(wa: WA) -> None:
    _meta_text(wa, "שלום")
    conversation_id = wa.conversation(wa.world.business_a).id
    wa.set_last_inbound(conversation_id, utcnow() - timedelta(days=3))  # templates need no window
    response = wa.world.as_("business_a").post(
        f"/api/conversations/{conversation_id}/template",
        {"name": "appointment_reminder", "language": "he", "params": ["דנה", "יום שלישי 10:00"]},
    )
    assert response.status_code == 201 and response.json["kind"] == "template"
    request = wa.fakes.meta.requests[-1]
    assert (
        request.path == f"/v23.0/{PNID_A}/messages"
        and request.headers["Authorization"] == f"Bearer {TOKEN_A}"
    )
    assert request.json() == {
        "messaging_product": "whatsapp",
        "to": "972501234567",
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "he"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "דנה"},
                        {"type": "text", "text": "יום שלישי 10:00"},
                    ],
                }
            ],
        },
    }
    assert _last(wa, wa.world.business_a).provider_message_id == wa.fakes.meta.sends[-1]["id"]


@pytest.mark.parametrize("provider", ["twilio", "meta"])
def test_replies_sending_at_once_keep_their_connections(
    wa: WA, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    """As many connections are kept as replies may send at once (WHATSAPP_REPLY_CONCURRENCY): a
    second round of the same number of sends at once comes on the first round's connections. With
    the libraries' defaults (requests' pool of 10, httpx's 20 kept) the sends past them each opened a
    connection and dropped it, a TCP and TLS handshake per send against the real APIs."""
    from server.providers import meta_whatsapp, twilio_whatsapp

    at_once = 24
    settings = wa.app.extensions["settings"]
    monkeypatch.setattr(settings, "whatsapp_reply_concurrency", at_once)
    fake = wa.fakes.twilio if provider == "twilio" else wa.fakes.meta
    together = threading.Barrier(at_once)
    fake.before_answer = lambda _request: together.wait(timeout=10)  # every send of a round overlaps

    def send(index: int) -> None:
        to = f"+97250555{index:04d}"
        if provider == "twilio":
            twilio_whatsapp.send(settings, from_number=NUMBER_A, to_number=to, body="שלום")
        else:
            meta_whatsapp.send_text(settings, PNID_A, TOKEN_A, to, None, "שלום")

    def one_round() -> set[tuple[str, int]]:
        before = len(fake.requests)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(at_once)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {request.peer for request in fake.requests[before:]}

    first = one_round()
    assert len(first) == at_once
    assert one_round() == first


def test_the_twilio_library_logs_its_requests_only_at_debug(wa: WA, caplog: pytest.LogCaptureFixture) -> None:
    """At LOG_LEVEL=info a send writes none of the library's ten lines (request, headers, response)."""
    import logging

    from server.app import _configure_logging
    from server.providers import twilio_whatsapp

    settings = wa.app.extensions["settings"]
    root, library = logging.getLogger(), logging.getLogger("twilio.http_client")
    levels = root.level, library.level
    try:
        for level, logged in (("info", False), ("debug", True)):
            caplog.clear()
            _configure_logging(level)
            twilio_whatsapp.send(settings, from_number=NUMBER_A, to_number=CUSTOMER, body="שלום")
            lines = [r.getMessage() for r in caplog.records if r.name == "twilio.http_client"]
            assert bool(lines) == logged, (level, lines)
    finally:
        root.setLevel(levels[0])
        library.setLevel(levels[1])
