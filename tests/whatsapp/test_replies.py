"""The AI reply: answers that never come, crashed workers, pacing, what the AI is shown."""

from __future__ import annotations

from typing import Any

from server.whatsapp.models import Message
from tests.whatsapp.conftest import CUSTOMER, WA

TOOL_CALL: dict[str, Any] = {"tool_calls": [{"name": "save_lead", "arguments": {"full_name": "דנה כהן"}}]}


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
