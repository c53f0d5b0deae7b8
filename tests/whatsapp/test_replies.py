"""The AI reply: answers that never come, crashed workers, pacing, what the AI is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from server.db import db_session, get_engine, utcnow
from server.jobs import huey
from server.leads.models import Lead
from server.whatsapp import replies, service
from server.whatsapp.models import Conversation, Message
from tests.fakes import whatsapp_meta as meta
from tests.whatsapp.conftest import CUSTOMER, NUMBER_A, PNID_A, WA

TOOL_CALL: dict[str, Any] = {"tool_calls": [{"name": "save_lead", "arguments": {"full_name": "דנה כהן"}}]}


def _customer_line(business_id: int, conversation_id: int, sid: str, text: str) -> dict[str, Any]:
    """The columns of a customer's Twilio line, as the intake stores it."""
    now = utcnow()
    return {
        "business_id": business_id,
        "conversation_id": conversation_id,
        "direction": "in",
        "author": "customer",
        "provider": "twilio",
        "provider_message_id": sid,
        "kind": "text",
        "text": text,
        "status": "received",
        "created_at": now,
        "status_at": now,
    }


def _thread(wa: WA) -> list[Message]:
    return wa.messages(wa.conversation(wa.world.business_a, CUSTOMER).id)


def test_an_empty_ai_answer_is_retried_then_a_visible_failure(wa: WA) -> None:
    wa.fakes.ai.script.extend([{"text": ""}] * 4)  # the first try and its three retries
    assert wa.twilio_text("שלום?").status_code == 200
    assert wa.run_scheduled() == 3
    assert len(wa.fakes.ai.calls) == 4 and wa.fakes.twilio.sends == []
    _inbound, failure = _thread(wa)
    assert (failure.kind, failure.status, failure.error_code) == ("ai_reply", "failed", "ai_empty_answer")
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.answered_through_id == 0 and conversation.reply_armed_at is None
    # Not answered means not forgotten: the next message is answered together with it.
    wa.twilio_text("הלו")
    assert wa.fakes.twilio.sends[-1].body == "echo: שלום? | הלו"


def test_an_ai_that_keeps_calling_tools_is_retried_and_the_retry_answers(wa: WA) -> None:
    wa.fakes.ai.script.extend([TOOL_CALL] * 4)  # one question and three tool rounds, all tools
    wa.twilio_text("אני דנה כהן")
    assert wa.fakes.twilio.sends == []
    assert wa.run_scheduled() == 1
    assert [s.body for s in wa.fakes.twilio.sends] == ["echo: אני דנה כהן"]
    assert [m.status for m in _thread(wa)] == ["received", "queued"]


def test_an_ai_that_never_stops_calling_tools_fails_visibly(wa: WA) -> None:
    wa.fakes.ai.script.extend([TOOL_CALL] * 16)
    wa.twilio_text("אני דנה כהן")
    wa.run_scheduled()
    failure = _thread(wa)[-1]
    assert (failure.kind, failure.status, failure.error_code) == ("ai_reply", "failed", "ai_tool_loop")
    assert wa.fakes.twilio.sends == []


# ---------------------------------------------------------------- a worker that died mid-reply


def _as_if_a_worker_died_mid_reply(wa: WA, lease_ends_in: timedelta) -> int:
    """An unanswered message, armed 3 minutes ago by a job that died holding the lease."""
    wa.twilio_text("שלום")
    conversation_id = wa.conversation(wa.world.business_a).id
    api = wa.world.as_("business_a")
    api.post(f"/api/conversations/{conversation_id}/pause")
    wa.twilio_text("יש מישהו?")  # lands in the inbox only
    now = utcnow()
    db_session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            ai_paused=False, reply_armed_at=now - timedelta(minutes=3), reply_lease_until=now + lease_ends_in
        )
    )
    db_session.commit()
    return conversation_id


def _expire_lease(conversation_id: int) -> None:
    db_session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(reply_lease_until=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()


def test_a_message_meeting_a_dead_workers_lease_is_answered_when_the_lease_ends(wa: WA) -> None:
    conversation_id = _as_if_a_worker_died_mid_reply(wa, timedelta(minutes=1))
    wa.twilio_text("הלו?")  # re-arms the stale conversation, meets the lease: busy
    assert len(wa.fakes.twilio.sends) == 1
    [task] = huey.scheduled()
    assert task.eta is not None and task.eta > datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=50)
    _expire_lease(conversation_id)
    assert wa.run_scheduled() == 1
    assert wa.fakes.twilio.sends[-1].body == "echo: יש מישהו? | הלו?"


def test_the_sweep_rearms_a_conversation_whose_job_was_lost(wa: WA) -> None:
    conversation_id = _as_if_a_worker_died_mid_reply(wa, -timedelta(seconds=1))
    assert len(wa.fakes.twilio.sends) == 1
    wa.run_task(replies.sweep_stranded_replies)
    assert wa.fakes.twilio.sends[-1].body == "echo: יש מישהו?"
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.id == conversation_id and conversation.reply_armed_at is None
    wa.run_task(replies.sweep_stranded_replies)  # nothing left: no second answer
    assert len(wa.fakes.twilio.sends) == 2


def test_the_sweep_leaves_live_leases_and_paused_conversations_alone(wa: WA) -> None:
    conversation_id = _as_if_a_worker_died_mid_reply(wa, timedelta(minutes=1))
    wa.run_task(replies.sweep_stranded_replies)
    db_session.execute(update(Conversation).where(Conversation.id == conversation_id).values(ai_paused=True))
    db_session.commit()
    _expire_lease(conversation_id)
    wa.run_task(replies.sweep_stranded_replies)
    assert len(wa.fakes.twilio.sends) == 1 and len(wa.fakes.ai.calls) == 1


def test_a_batch_backup_answers_only_what_its_greenlets_left_unanswered(wa: WA) -> None:
    """check_replies (the durable backup of a second's greenlet replies) answers a conversation still
    armed from then with nobody writing; one armed again since, one being written and a paused one
    are left alone."""
    conversation_id = _as_if_a_worker_died_mid_reply(wa, timedelta(minutes=1))  # armed 3 min ago
    backup = replies.check_replies.call_local

    def armed_before(ago: timedelta) -> str:
        return (utcnow() - ago).isoformat()

    with wa.app.app_context():
        assert backup([conversation_id], armed_before(timedelta(0))) == 0  # a live lease: being written
        _expire_lease(conversation_id)
        assert backup([conversation_id], armed_before(timedelta(minutes=5))) == 0  # armed again since
        db_session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(ai_paused=True)
        )
        db_session.commit()
        assert backup([conversation_id], armed_before(timedelta(0))) == 0  # paused
        db_session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(ai_paused=False)
        )
        db_session.commit()
        assert len(wa.fakes.twilio.sends) == 1
        assert backup([conversation_id, 987654], armed_before(timedelta(0))) == 1
    assert wa.fakes.twilio.sends[-1].body == "echo: יש מישהו?"
    assert wa.conversation(wa.world.business_a).reply_armed_at is None
    with wa.app.app_context():
        assert backup([conversation_id], armed_before(timedelta(0))) == 0  # answered: nothing to do
    assert len(wa.fakes.twilio.sends) == 2


def test_the_sweep_sends_a_queued_message_whose_job_was_lost_and_fails_an_interrupted_one(wa: WA) -> None:
    from server.whatsapp import delivery

    wa.twilio_text("שלום")
    conversation = wa.conversation(wa.world.business_a)
    long_ago = utcnow() - timedelta(minutes=11)
    never_tried, interrupted = (
        Message(
            business_id=conversation.business_id,
            conversation_id=conversation.id,
            direction="out",
            author="user",
            provider="twilio",
            kind="text",
            text=text,
            status="queued",
            attempts=attempts,
            created_at=long_ago,
            status_at=long_ago,
        )
        for text, attempts in (("לא נשלחה", 0), ("נקטעה", 1))
    )
    db_session.add_all([never_tried, interrupted])
    db_session.commit()
    wa.run_task(delivery.sweep_stranded_sends)
    assert wa.fakes.twilio.sends[-1].body == "לא נשלחה" and len(wa.fakes.twilio.sends) == 2
    by_text = {m.text: m for m in _thread(wa)}
    assert by_text["לא נשלחה"].provider_message_id == wa.fakes.twilio.sends[-1].sid
    stopped = by_text["נקטעה"]
    assert (stopped.status, stopped.error_code) == ("failed", "send_interrupted")
    assert "may have reached" in (stopped.error_message or "")


# ---------------------------------------------------------------- a username without a number


def test_a_username_without_a_number_is_answered_by_user_id_and_gets_no_lead_yet(wa: WA) -> None:
    user_id = "US.13491208655302741918"
    hidden = {"from_user_id": user_id, "id": meta.wamid(), "timestamp": "1763900000", "type": "text"}
    hidden["text"] = {"body": "כמה עולה תספורת?"}
    contacts = [{"profile": {"name": "נועה", "username": "@noa"}, "user_id": user_id}]
    assert wa.meta(meta.webhook([meta.change(PNID_A, [hidden], contacts=contacts)])).status_code == 200

    [call] = wa.fakes.ai.calls
    assert "tools" not in call  # no save_lead: there is no lead to save to until the number appears
    assert "hidden" in call["messages"][0]["content"]
    [sent] = wa.fakes.meta.sends
    assert (
        sent["recipient"] == user_id and "to" not in sent and sent["text"]["body"] == "echo: כמה עולה תספורת?"
    )
    conversation = db_session.scalar(select(Conversation).where(Conversation.customer_user_id == user_id))
    assert conversation is not None
    reply = wa.messages(conversation.id)[-1]
    assert (reply.status, reply.provider_message_id) == ("queued", sent["id"])
    assert wa.count(Lead) == 0
    shown = wa.world.as_("business_a").get(f"/api/conversations/{conversation.id}").json
    assert shown["lead_id"] is None and shown["customer_user_id"] == user_id
    assert "username" in shown["no_lead_reason"]

    # A template reaches the user id too (allowed at any time).
    template = wa.world.as_("business_a").post(
        f"/api/conversations/{conversation.id}/template", {"name": "appointment_reminder", "params": ["נועה"]}
    )
    assert template.status_code == 201
    assert wa.fakes.meta.sends[-1]["recipient"] == user_id and wa.fakes.meta.sends[-1]["type"] == "template"


def test_a_conversation_nobody_can_write_to_is_marked_without_an_ai_call(wa: WA) -> None:
    # A Twilio conversation keyed by a user id only: Twilio has no way to address it.
    now = utcnow()
    conversation = Conversation(
        business_id=wa.world.business_a,
        customer_key="US.1",
        customer_user_id="US.1",
        provider="twilio",
        business_address=NUMBER_A,
        last_inbound_at=now,
        last_inbound_received_at=now,
        reply_armed_at=now - timedelta(seconds=5),
    )
    db_session.add(conversation)
    db_session.flush()
    db_session.add(Message(**_customer_line(wa.world.business_a, conversation.id, "SM" + "9" * 32, "שלום")))
    db_session.commit()
    with wa.app.app_context():
        replies.reply_to_conversation(conversation.id)
    assert wa.fakes.ai.calls == [] and wa.fakes.twilio.sends == []
    failure = wa.messages(conversation.id)[-1]
    assert (failure.kind, failure.status, failure.error_code) == ("ai_reply", "failed", "no_recipient")
    assert service.can_write_to(conversation) is False


# ---------------------------------------------------------------- a line arriving while the AI writes


def _writes_again_during_the_first_ai_call(wa: WA, text: str) -> None:
    def on_call(_body: dict[str, Any]) -> None:
        if len(wa.fakes.ai.calls) == 1:
            assert wa.twilio_text(text).status_code == 200

    wa.fakes.ai.on_call = on_call


def test_a_line_arriving_while_the_ai_writes_drops_that_answer_and_both_are_answered_once(wa: WA) -> None:
    _writes_again_during_the_first_ai_call(wa, "ועוד משהו")
    wa.twilio_text("שאלה")
    assert [s.body for s in wa.fakes.twilio.sends] == ["echo: שאלה | ועוד משהו"]
    assert len(wa.fakes.ai.calls) == 2


def test_after_the_max_wait_the_answer_is_sent_and_the_newer_line_is_shown_to_the_ai_as_unanswered(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wa.app.extensions["settings"], "whatsapp_reply_max_wait_seconds", 0.0)
    _writes_again_during_the_first_ai_call(wa, "ועוד משהו")
    wa.twilio_text("שאלה")
    # Our first answer is stored after the newer line; the AI must still see that line as the one to
    # answer (after our answer), not as something our answer already covered.
    assert [s.body for s in wa.fakes.twilio.sends] == ["echo: שאלה", "echo: ועוד משהו"]
    turns = [(m["role"], m["content"]) for m in wa.fakes.ai.calls[-1]["messages"][1:]]
    assert turns == [("user", "שאלה"), ("assistant", "echo: שאלה"), ("user", "ועוד משהו")]


def test_an_attempt_that_read_the_conversation_before_another_answered_it_does_not_answer_again(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two attempts: B reads the conversation, A answers and finishes (on another connection), then B
    claims the lease. B must see what A answered, not its earlier reading."""
    monkeypatch.setattr(replies, "schedule_reply", lambda _conversation_id: None)
    wa.twilio_text("שאלה")
    conversation = wa.conversation(wa.world.business_a, CUSTOMER)
    [line] = wa.messages(conversation.id)
    real_quiet_at = replies._quiet_at

    def other_attempt_finishes(*args: Any) -> datetime:
        with get_engine().begin() as other:  # A, on its own connection, after B read the row
            other.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(answered_through_id=line.id, reply_armed_at=None, reply_lease_until=None)
            )
        return real_quiet_at(*args)

    monkeypatch.setattr(replies, "_quiet_at", other_attempt_finishes)
    with wa.app.app_context():
        outcome = replies.attempt_reply(conversation.id, final=True, wait=False)
    assert outcome == "idle"
    assert wa.fakes.ai.calls == [] and wa.fakes.twilio.sends == []


def test_replies_in_the_worker_take_a_slot_each_but_none_while_waiting_for_quiet(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WHATSAPP_REPLY_CONCURRENCY replies write at once in the worker; one waiting for the customer to
    be quiet holds no slot (else waiting conversations would keep the ready ones from answering)."""
    import gevent

    monkeypatch.setattr(wa.app.extensions["settings"], "whatsapp_reply_concurrency", 2)
    monkeypatch.setattr(replies, "_slots", None)
    monkeypatch.setattr(replies.time, "sleep", gevent.sleep)
    writing, most, done = [0], [0], []

    def fake_attempt(conversation_id: int, *, final: bool, wait: bool, sleep: Any) -> str:
        if conversation_id < 3:
            sleep(0.05)  # waiting for quiet: the others may write meanwhile
        writing[0] += 1
        most[0] = max(most[0], writing[0])
        gevent.sleep(0.01)  # the AI call
        writing[0] -= 1
        done.append(conversation_id)
        return "replied"

    monkeypatch.setattr(replies, "attempt_reply", fake_attempt)
    with wa.app.app_context():
        replies._reply_slots()  # sized from the settings (greenlets spawned later have no app context)
        greenlets = [gevent.spawn(replies._reply_in_greenlet, n) for n in range(1, 9)]
        gevent.joinall(greenlets, timeout=5)
    assert sorted(done) == list(range(1, 9)) and most[0] == 2
    # The two that waited first finished last: they gave their slots to the six ready ones.
    assert set(done[-2:]) == {1, 2}


def test_a_line_landing_between_counting_the_unanswered_and_reading_the_history_is_answered_once(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the reply's queries interleave with the webhooks': a line stored after the reply
    counted what it answers must not reach this answer's AI call (the next reply answers it)."""
    monkeypatch.setattr(wa.app.extensions["settings"], "whatsapp_reply_max_wait_seconds", 0.0)
    real_history = service.history
    landed: list[int] = []

    def a_line_lands_first(conversation: Conversation, *args: Any) -> list[Message]:
        if not landed:
            with get_engine().begin() as other:  # the webhook, on its own connection
                landed.append(
                    other.execute(
                        insert(Message)
                        .values(
                            **_customer_line(
                                conversation.business_id, conversation.id, "SM" + "5" * 32, "ועוד שאלה"
                            )
                        )
                        .returning(Message.id)
                    ).scalar_one()
                )
        return real_history(conversation, *args)

    monkeypatch.setattr(service, "history", a_line_lands_first)
    wa.twilio_text("שאלה")
    assert [s.body for s in wa.fakes.twilio.sends] == ["echo: שאלה", "echo: ועוד שאלה"]


def test_the_ai_reads_every_line_written_since_its_last_answer_and_the_history_before_them(
    wa: WA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More unanswered lines than WHATSAPP_AI_HISTORY_MESSAGES (here while the AI was paused): all of
    them reach the AI, with that many messages of the conversation before them."""
    monkeypatch.setattr(wa.app.extensions["settings"], "whatsapp_ai_history_messages", 2)
    api = wa.world.as_("business_a")
    wa.twilio_text("בוקר טוב")
    wa.twilio_text("שלום")
    conversation_id = wa.conversation(wa.world.business_a).id
    api.post(f"/api/conversations/{conversation_id}/pause")
    lines = [f"שורה {i}" for i in range(8)]
    for line in lines:
        wa.twilio_text(line)
    assert api.post(f"/api/conversations/{conversation_id}/resume").status_code == 200
    assert wa.fakes.twilio.sends[-1].body == "echo: " + " | ".join(lines)
    turns = [(m["role"], m["content"]) for m in wa.fakes.ai.calls[-1]["messages"][1:]]
    assert turns == [("user", "שלום"), ("assistant", "echo: שלום")] + [("user", line) for line in lines]
