"""The inbox: listing, reading, human takeover, sends under the 24-hour rule, retries and failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.db import db_session, utcnow
from server.leads.models import Lead, LeadEvent
from tests.conftest import error_of
from tests.whatsapp.conftest import CUSTOMER, NUMBER_A, WA

HX = "HX" + "a" * 32


def test_inbox_lists_filters_searches_and_pages(wa: WA) -> None:
    for index in range(5):
        wa.twilio_text(f"שלום {index}", frm=f"+97250123450{index}", profile_name=f"לקוח {index}")
    api = wa.world.as_("business_a")
    page = api.get("/api/conversations?limit=2").json
    assert [c["customer_name"] for c in page["items"]] == ["לקוח 4", "לקוח 3"]
    rest = api.get(f"/api/conversations?limit=10&cursor={page['next_cursor']}").json
    assert [c["customer_name"] for c in rest["items"]] == ["לקוח 2", "לקוח 1", "לקוח 0"] and rest[
        "next_cursor"
    ] is None
    first = page["items"][0]
    assert (
        first["unread_count"] == 1
        and first["window_open"] is True
        and first["last_preview"].startswith("echo:")
    )
    assert [c["customer_name"] for c in api.get("/api/conversations?q=לקוח 3").json["items"]] == ["לקוח 3"]
    assert [c["customer_phone"] for c in api.get("/api/conversations?q=050-1234502").json["items"]] == [
        "+972501234502"
    ]
    read = api.post(f"/api/conversations/{first['id']}/read")
    assert read.status_code == 200 and read.json["unread_count"] == 0
    assert len(api.get("/api/conversations?unread=true").json["items"]) == 4
    assert [c["id"] for c in api.get("/api/conversations?unread=false").json["items"]] == [first["id"]]
    detail = api.get(f"/api/conversations/{first['id']}?limit=1").json
    assert [m["author"] for m in detail["messages"]] == ["ai"] and detail["older_before_id"]
    older = api.get(f"/api/conversations/{first['id']}?before_id={detail['older_before_id']}").json
    assert [m["text"] for m in older["messages"]] == ["שלום 4"] and older["older_before_id"] is None


def test_pause_keeps_the_ai_out_and_resume_brings_it_back(wa: WA) -> None:
    wa.twilio_text("שלום")
    api = wa.world.as_("business_a")
    conversation_id = wa.conversation(wa.world.business_a).id
    paused = api.post(f"/api/conversations/{conversation_id}/pause")
    assert paused.status_code == 200 and paused.json["ai_paused"] is True
    assert paused.json["paused_by_id"] == wa.world.user_a_id
    assert api.get("/api/conversations?ai_paused=true").json["items"][0]["id"] == conversation_id

    wa.twilio_text("אני רוצה לדבר עם בן אדם")
    assert len(wa.fakes.ai.calls) == 1 and len(wa.fakes.twilio.sends) == 1  # only the first reply
    detail = api.get(f"/api/conversations/{conversation_id}").json
    assert detail["messages"][-1]["text"] == "אני רוצה לדבר עם בן אדם" and detail["unread_count"] == 2

    resumed = api.post(f"/api/conversations/{conversation_id}/resume")
    assert resumed.status_code == 200 and resumed.json["ai_paused"] is False
    # The message that came in while paused gets its answer now.
    assert len(wa.fakes.ai.calls) == 2
    assert wa.fakes.twilio.sends[-1].body == "echo: אני רוצה לדבר עם בן אדם"

    # A person answers while the AI is on: the AI does not answer the same message again.
    api.post(f"/api/conversations/{conversation_id}/pause")
    wa.twilio_text("מתי אתם פתוחים?")
    assert api.post(f"/api/conversations/{conversation_id}/messages", {"text": "עד 18:00"}).status_code == 201
    api.post(f"/api/conversations/{conversation_id}/resume")
    assert len(wa.fakes.ai.calls) == 2
    assert wa.fakes.twilio.sends[-1].body == "עד 18:00"


def test_inbox_send_obeys_the_24_hour_window_and_templates_work_outside_it(wa: WA) -> None:
    wa.twilio_text("היי")
    api = wa.world.as_("business_a")
    conversation_id = wa.conversation(wa.world.business_a).id
    sent = api.post(f"/api/conversations/{conversation_id}/messages", {"text": "תשובה מהמשרד"})
    assert sent.status_code == 201
    assert (sent.json["status"], sent.json["author"], sent.json["sent_by_id"]) == (
        "queued",
        "user",
        wa.world.user_a_id,
    )
    assert wa.fakes.twilio.sends[-1].body == "תשובה מהמשרד"
    after = api.get(f"/api/conversations/{conversation_id}").json["messages"][-1]
    assert after["provider_message_id"] == wa.fakes.twilio.sends[-1].sid

    wa.set_last_inbound(conversation_id, utcnow() - timedelta(hours=24, minutes=1))
    refused = api.post(f"/api/conversations/{conversation_id}/messages", {"text": "מאוחר מדי"})
    assert error_of(refused) == (409, "outside_24h_window")
    assert refused.json["template_route"] == f"POST /api/conversations/{conversation_id}/template"
    assert f"/api/conversations/{conversation_id}/template" in refused.json["message"]
    sends = len(wa.fakes.twilio.sends)

    template = api.post(
        f"/api/conversations/{conversation_id}/template",
        {"name": HX, "language": "he", "params": ["דנה", "מחר"]},
    )
    assert template.status_code == 201 and template.json["kind"] == "template"
    assert len(wa.fakes.twilio.sends) == sends + 1
    form = wa.fakes.twilio.sends[-1].form
    assert form["ContentSid"] == HX and "Body" not in form
    assert form["ContentVariables"] == '{"1": "דנה", "2": "מחר"}'
    bad = api.post(f"/api/conversations/{conversation_id}/template", {"name": "appointment_reminder"})
    assert error_of(bad) == (422, "invalid_fields")


def test_lead_whatsapp_route_obeys_the_24_hour_rule(wa: WA) -> None:
    api = wa.world.as_("business_a")
    lead = api.post("/api/leads", {"full_name": "יעל", "phone": "050-777-8888"}).json
    refused = api.post(f"/api/leads/{lead['id']}/whatsapp", {"text": "שלום יעל"})
    assert error_of(refused) == (409, "outside_24h_window")  # she never wrote
    assert refused.json["template_route"].startswith("POST /api/conversations/")
    assert refused.json["template_route"].endswith("/template")

    wa.twilio_text("היי, זו יעל", frm="+972507778888")
    sent = api.post(f"/api/leads/{lead['id']}/whatsapp", {"text": "שלום יעל, מתי נוח לך?"})
    assert sent.status_code == 201 and sent.json["status"] == "queued"
    assert wa.fakes.twilio.sends[-1].body == "שלום יעל, מתי נוח לך?"
    assert wa.fakes.twilio.sends[-1].form["To"] == "whatsapp:+972507778888"
    kinds = db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead["id"])).all()
    assert "whatsapp_queued" in kinds and "whatsapp_sent" in kinds and kinds.count("conversation_linked") == 1

    conversation_id = wa.conversation(wa.world.business_a, "+972507778888").id
    wa.set_last_inbound(conversation_id, utcnow() - timedelta(hours=25))
    assert error_of(api.post(f"/api/leads/{lead['id']}/whatsapp", {"text": "?"})) == (
        409,
        "outside_24h_window",
    )
    assert error_of(wa.world.as_("business_b").post(f"/api/leads/{lead['id']}/whatsapp", {"text": "x"})) == (
        404,
        "lead_not_found",
    )


def test_ai_down_is_retried_with_backoff_then_failed_and_visible(wa: WA) -> None:
    # Huey runs in immediate mode here, so the first attempt runs inside the webhook; that the webhook
    # never waits on the AI is shown on the real server (test_real_server.py).
    wa.fakes.ai.down = 503
    assert wa.twilio_text("יש מישהו?").status_code == 200  # the AI's error does not fail the webhook
    assert len(wa.fakes.ai.calls) == 1
    assert wa.run_scheduled() == 3  # three retries, 2 s, 4 s, 8 s apart in real time
    assert len(wa.fakes.ai.calls) == 4 and wa.fakes.twilio.sends == []
    api = wa.world.as_("business_a")
    [listed] = api.get("/api/conversations?failed=true").json["items"]
    failure = api.get(f"/api/conversations/{listed['id']}").json["messages"][-1]
    assert (failure["author"], failure["kind"], failure["status"]) == ("ai", "ai_reply", "failed")
    assert failure["error_code"] == "ai_unavailable" and "503" in failure["error_message"]

    # The AI is back: the next message is answered together with the one that got no answer.
    wa.fakes.ai.down = None
    wa.twilio_text("הלו?")
    assert wa.fakes.twilio.sends[-1].body == "echo: יש מישהו? | הלו?"


def test_ai_recovering_within_the_retries_answers_once(wa: WA) -> None:
    wa.fakes.ai.down = 500
    wa.twilio_text("שלום")
    wa.fakes.ai.down = None
    assert wa.run_scheduled() == 1
    assert [s.body for s in wa.fakes.twilio.sends] == ["echo: שלום"]


def test_provider_errors_are_retried_then_failed(wa: WA) -> None:
    wa.fakes.twilio.fail_next.extend([500, 503])
    wa.twilio_text("שלום")
    assert wa.fakes.twilio.sends == []
    wa.run_scheduled()
    [sent] = wa.fakes.twilio.sends
    reply = wa.messages(wa.conversation(wa.world.business_a).id)[-1]
    assert reply.provider_message_id == sent.sid and reply.attempts == 3 and reply.status == "queued"

    wa.fakes.twilio.fail_next.extend([500] * 10)
    api = wa.world.as_("business_a")
    conversation_id = wa.conversation(wa.world.business_a).id
    queued = api.post(f"/api/conversations/{conversation_id}/messages", {"text": "לא יגיע"}).json
    wa.run_scheduled()
    failed = wa.messages(conversation_id)[-1]
    assert failed.id == queued["id"] and failed.status == "failed" and failed.attempts == 5
    assert api.get("/api/conversations?failed=true").json["items"][0]["id"] == conversation_id


def test_save_lead_tool_updates_the_lead(wa: WA) -> None:
    wa.fakes.ai.script.extend(
        [
            {
                "tool_calls": [
                    {
                        "name": "save_lead",
                        "arguments": {
                            "email": "dana@example.co.il",
                            "summary": "רוצה תספורת ביום שלישי בבוקר",
                        },
                    }
                ]
            },
            {"text": "רשמתי, נחזור אלייך לתיאום."},
        ]
    )
    wa.twilio_text("אני דנה, רוצה תספורת ביום שלישי. המייל dana@example.co.il", profile_name="")
    assert wa.fakes.twilio.sends[-1].body == "רשמתי, נחזור אלייך לתיאום."
    second_call = wa.fakes.ai.calls[1]["messages"]
    assert second_call[-2]["tool_calls"][0]["function"]["name"] == "save_lead"
    assert second_call[-1]["role"] == "tool" and '"ok": true' in second_call[-1]["content"]
    lead = db_session.scalar(select(Lead).where(Lead.phone == CUSTOMER))
    assert lead is not None and lead.email == "dana@example.co.il" and "תספורת" in lead.notes
    assert NUMBER_A  # the business's sender stays the one the customer wrote to


def test_the_name_the_ai_learns_replaces_the_profile_name_but_not_a_humans(wa: WA) -> None:
    said = [
        {"tool_calls": [{"name": "save_lead", "arguments": {"full_name": "דנה כהן"}}]},
        {"text": "תודה דנה"},
    ]
    wa.fakes.ai.script.extend(said)
    wa.twilio_text("אני דנה כהן", profile_name="Dana")  # the profile name fills the blank, then the AI's
    lead = db_session.scalar(select(Lead).where(Lead.phone == CUSTOMER))
    assert lead is not None and lead.full_name == "דנה כהן" and lead.name_source == "agent"
    lead.full_name, lead.name_source = "דנה כהן-לוי", "human"  # what a PATCH by the business writes
    db_session.commit()
    wa.fakes.ai.script.extend(
        [{"tool_calls": [{"name": "save_lead", "arguments": {"full_name": "דנה"}}]}, {"text": "בסדר"}]
    )
    wa.twilio_text("זאת שוב דנה", profile_name="Dana")
    db_session.expire_all()
    assert db_session.get(Lead, lead.id).full_name == "דנה כהן-לוי"


# ---------------------------------------------------------------- "failed" means an unresolved failure


def _failed_ids(wa: WA) -> list[int]:
    return [c["id"] for c in wa.world.as_("business_a").get("/api/conversations?failed=true").json["items"]]


def _a_failed_send(wa: WA, text: str = "לא יגיע") -> tuple[int, dict[str, Any]]:
    wa.twilio_text("שלום")
    conversation_id = wa.conversation(wa.world.business_a).id
    wa.fakes.twilio.fail_next.extend([500] * 5)
    queued = wa.world.as_("business_a").post(f"/api/conversations/{conversation_id}/messages", {"text": text})
    wa.run_scheduled()
    assert wa.messages(conversation_id)[-1].status == "failed"
    assert _failed_ids(wa) == [conversation_id]
    return conversation_id, queued.json


def test_a_later_successful_send_clears_the_failed_flag(wa: WA) -> None:
    conversation_id, _failed = _a_failed_send(wa)
    api = wa.world.as_("business_a")
    assert api.post(f"/api/conversations/{conversation_id}/messages", {"text": "ננסה שוב"}).status_code == 201
    assert _failed_ids(wa) == []
    assert api.get(f"/api/conversations/{conversation_id}").json["has_failed"] is False
    assert [c["id"] for c in api.get("/api/conversations?failed=false").json["items"]] == [conversation_id]


def test_retrying_a_failed_message_resends_it_and_clears_the_flag(wa: WA) -> None:
    conversation_id, failed = _a_failed_send(wa, "הודעה שנכשלה")
    api = wa.world.as_("business_a")
    retried = api.post(f"/api/conversations/{conversation_id}/messages/{failed['id']}/retry")
    assert retried.status_code == 200, retried.json
    assert retried.json["id"] == failed["id"] and retried.json["status"] == "queued"
    assert retried.json["error_code"] is None
    assert wa.fakes.twilio.sends[-1].body == "הודעה שנכשלה"
    again = wa.messages(conversation_id)[-1]
    assert again.id == failed["id"] and again.provider_message_id == wa.fakes.twilio.sends[-1].sid
    assert _failed_ids(wa) == []
    # Not failed (any more): nothing to retry.
    assert error_of(api.post(f"/api/conversations/{conversation_id}/messages/{failed['id']}/retry")) == (
        409,
        "not_failed",
    )


def test_retry_obeys_the_24_hour_rule_and_tenants(wa: WA) -> None:
    conversation_id, failed = _a_failed_send(wa)
    url = f"/api/conversations/{conversation_id}/messages/{failed['id']}/retry"
    assert error_of(wa.world.as_("business_b").post(url)) == (404, "conversation_not_found")
    inbound_id = wa.messages(conversation_id)[0].id
    assert error_of(
        wa.world.as_("business_a").post(f"/api/conversations/{conversation_id}/messages/{inbound_id}/retry")
    ) == (409, "not_failed")
    assert error_of(
        wa.world.as_("business_a").post(f"/api/conversations/{conversation_id}/messages/999999/retry")
    ) == (404, "message_not_found")
    wa.set_last_inbound(conversation_id, utcnow() - timedelta(hours=25))
    refused = wa.world.as_("business_a").post(url)
    assert error_of(refused) == (409, "outside_24h_window") and refused.json["template_route"].endswith(
        "/template"
    )
    assert wa.messages(conversation_id)[-1].status == "failed"  # left as it was


def test_retrying_a_failed_ai_reply_asks_the_ai_again(wa: WA) -> None:
    wa.fakes.ai.down = 503
    wa.twilio_text("יש מישהו?")
    wa.run_scheduled()
    conversation_id = wa.conversation(wa.world.business_a).id
    failure = wa.messages(conversation_id)[-1]
    assert failure.kind == "ai_reply" and _failed_ids(wa) == [conversation_id]
    wa.fakes.ai.down = None
    retried = wa.world.as_("business_a").post(
        f"/api/conversations/{conversation_id}/messages/{failure.id}/retry"
    )
    assert retried.status_code == 200
    assert wa.fakes.twilio.sends[-1].body == "echo: יש מישהו?"
    assert _failed_ids(wa) == []


def test_search_takes_percent_and_underscore_literally(wa: WA) -> None:
    wa.twilio_text("שלום", frm="+972501234501", profile_name="דנה")
    wa.twilio_text("שלום", frm="+972501234502", profile_name="הנחה 100%")
    wa.twilio_text("שלום", frm="+972501234503", profile_name="a_b")
    api = wa.world.as_("business_a")

    def found(q: str) -> list[str]:
        return [
            c["customer_name"] for c in api.get("/api/conversations", query_string={"q": q}).json["items"]
        ]

    assert found("%") == ["הנחה 100%"]
    assert found("_") == ["a_b"]
    assert found("0%") == ["הנחה 100%"]


def test_a_failed_message_is_not_shown_to_the_ai_as_said(wa: WA) -> None:
    _a_failed_send(wa, "המחיר הוא 50 שקל")
    wa.twilio_text("כמה זה עולה?")
    turns = [(m["role"], m["content"]) for m in wa.fakes.ai.calls[-1]["messages"][1:]]
    assert ("assistant", "המחיר הוא 50 שקל") not in turns
    assert turns[-1] == ("user", "כמה זה עולה?")
