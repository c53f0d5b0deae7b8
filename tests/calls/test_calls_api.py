"""The call log API (tenant-scoped, filters, keyset pagination) and the webhooks' refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from flask import Flask
from sqlalchemy import MetaData, create_engine, insert, select, text
from twilio.request_validator import RequestValidator

from server.app import create_app
from server.auth.context import TenantId
from server.calls import service, tokens
from server.calls.models import Call
from server.db import db_session, utcnow
from server.leads.models import Lead
from server.migrate import alembic_config
from tests.conftest import TEST_SECRET, World, error_of, make_settings
from tests.fakes.calls_twilio import parse_twiml


def _call(sid_suffix: str, to: str = "+97235550101", caller: str = "+972501234567", **finish: Any) -> Call:
    sid = "CA" + sid_suffix.rjust(32, "0")
    answer = service.register_incoming({"CallSid": sid, "From": caller, "To": to, "CallStatus": "ringing"})
    assert answer.business_id is not None
    call = db_session.scalar(select(Call).where(Call.call_sid == sid))
    assert call is not None
    if finish:
        call.stream_started_at = call.started_at
        db_session.commit()
        service.finish_call({"call_sid": sid, "business_id": call.business_id, **finish})
    return call


def test_the_call_log_is_per_business_newest_first_with_keyset_pages(world: World) -> None:
    with world.app.app_context():
        ids = []
        for i in range(5):
            call = _call(f"{i}", transcript=[{"speaker": "caller", "text": f"שלום {i}", "at_ms": 10}])
            call.started_at = utcnow() - timedelta(minutes=10 - i)
            db_session.commit()
            ids.append(call.id)
        other = _call("b1", to="+97235550202")
    a = world.as_("business_a")
    first = a.get("/api/calls?limit=2").json
    assert [c["id"] for c in first["items"]] == [ids[4], ids[3]]
    second = a.get(f"/api/calls?limit=2&cursor={first['next_cursor']}").json
    third = a.get(f"/api/calls?limit=2&cursor={second['next_cursor']}").json
    assert [c["id"] for c in second["items"] + third["items"]] == [ids[2], ids[1], ids[0]]
    assert third["next_cursor"] is None
    assert other.id not in [c["id"] for c in first["items"] + second["items"] + third["items"]]
    assert error_of(a.get("/api/calls?cursor=garbage")) == (422, "invalid_fields")
    detail = a.get(f"/api/calls/{ids[0]}").json
    assert detail["transcript"] == [
        {
            "speaker": "caller",
            "text": "שלום 0",
            "at_ms": 10,
            "kind": "speech",
            "interrupted": False,
            "heard_ms": None,
        }
    ]
    assert error_of(a.get(f"/api/calls/{other.id}")) == (404, "call_not_found")
    assert world.as_("admin_as_a").get(f"/api/calls/{ids[0]}").status_code == 200
    assert error_of(world.as_("admin").get("/api/calls")) == (403, "no_tenant")


def test_call_log_filters(world: World) -> None:
    with world.app.app_context():
        done = _call("1", caller="+972521111111", transcript=[], ai_outcome="unreachable")
        ringing = _call("2", caller="+972522222222")
    a = world.as_("business_a")

    def ids(query: str) -> list[int]:
        response = a.get(f"/api/calls?{query}")
        assert response.status_code == 200, response.json
        return [c["id"] for c in response.json["items"]]

    assert ids("status=completed") == [done.id]
    assert ids("status=ringing") == [ringing.id]
    assert ids("ai_outcome=unreachable") == [done.id]
    assert ids("from_number=052-222-2222") == [ringing.id]
    assert ids(f"lead_id={db_session.get(Call, done.id).lead_id}") == [done.id]  # type: ignore[union-attr]
    assert error_of(a.get("/api/calls?status=bogus"))[0] == 422
    assert error_of(a.get("/api/calls?from_number=abc")) == (422, "invalid_fields")


def test_every_answered_call_leaves_a_lead_even_without_the_tool(world: World) -> None:
    with world.app.app_context():
        call = _call(
            "9", caller="+972531234567", transcript=[{"speaker": "caller", "text": "מתי אתם פתוחים?"}]
        )
        db_session.remove()
        saved = db_session.get(Call, call.id)
        assert saved is not None and saved.lead_id is not None
        lead = db_session.get(Lead, saved.lead_id)
        assert lead is not None and lead.phone == "+972531234567" and lead.source == "call"
        assert "מתי אתם פתוחים?" in lead.notes
        # Saving twice (a retried job) changes nothing.
        service.finish_call({"call_sid": call.call_sid, "business_id": call.business_id, "transcript": []})
        assert db_session.get(Lead, saved.lead_id).notes == lead.notes  # type: ignore[union-attr]


def test_withheld_caller_ids_never_become_leads(world: World) -> None:
    with world.app.app_context():
        call = _call("7", caller="anonymous", transcript=[])
        db_session.remove()
        assert db_session.get(Call, call.id).lead_id is None  # type: ignore[union-attr]


def test_call_tokens_are_signed_bound_to_the_call_and_expire() -> None:
    token = tokens.mint(TEST_SECRET, 7, "CA1")
    assert tokens.verify(TEST_SECRET, token, 60) == tokens.StreamGrant(7, "CA1")
    assert tokens.verify("another-secret-key-0123456789-abcdefghij", token, 60) is None
    assert tokens.verify(TEST_SECRET, token[:-2] + "xx", 60) is None
    assert tokens.verify(TEST_SECRET, token, -1) is None  # expired


def _signed(app: Flask, path: str, form: dict[str, str], token: str = "tw-token", **headers: str) -> Any:
    signature = RequestValidator(token).compute_signature(f"https://calls.example.test{path}", form)
    return app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature, **headers})


def test_the_voice_webhook_refuses_bad_signatures_and_unknown_numbers(world: World) -> None:
    settings = world.app.extensions["settings"]
    saved = (settings.twilio_auth_token, settings.public_base_url)
    settings.twilio_auth_token, settings.public_base_url = "tw-token", "https://calls.example.test"
    try:
        form = {
            "CallSid": "CA" + "1" * 32,
            "From": "+972501234567",
            "To": "+97235550101",
            "CallStatus": "ringing",
        }
        assert _signed(world.app, "/webhook/twilio/voice", form).status_code == 200
        forged = _signed(world.app, "/webhook/twilio/voice", {**form, "To": "+97235550202"}, token="other")
        assert error_of(forged) == (403, "bad_signature")
        tampered = world.app.test_client().post(
            "/webhook/twilio/voice",
            data={**form, "From": "+972509999999"},
            headers={
                "X-Twilio-Signature": RequestValidator("tw-token").compute_signature(
                    "https://calls.example.test/webhook/twilio/voice", form
                )
            },
        )
        assert error_of(tampered) == (403, "bad_signature")
        unsigned = world.app.test_client().post("/webhook/twilio/voice", data=form)
        assert error_of(unsigned) == (403, "bad_signature")
        unknown = _signed(
            world.app, "/webhook/twilio/voice", {**form, "CallSid": "CA" + "2" * 32, "To": "+97235559999"}
        )
        assert unknown.status_code == 200 and "<Reject" in unknown.get_data(as_text=True)
        admin = world.as_("admin")
        assert (
            admin.patch(f"/api/admin/businesses/{world.business_b}", {"is_active": False}).status_code == 200
        )
        inactive = _signed(
            world.app, "/webhook/twilio/voice", {**form, "CallSid": "CA" + "3" * 32, "To": "+97235550202"}
        )
        body = inactive.get_data(as_text=True)
        assert inactive.status_code == 200 and '<Say language="he-IL">' in body and "<Connect" not in body
        status = _signed(
            world.app, "/webhook/twilio/voice/status", {"CallSid": form["CallSid"], "CallStatus": "no-answer"}
        )
        assert status.status_code == 204
        with world.app.app_context():
            call = db_session.scalar(select(Call).where(Call.call_sid == form["CallSid"]))
            assert call is not None and call.status == "no-answer" and call.ended_at is not None
            assert db_session.scalar(select(Call).where(Call.call_sid == "CA" + "2" * 32)) is None
        bad_status = _signed(
            world.app, "/webhook/twilio/voice/status", {"CallSid": "x", "CallStatus": "failed"}, "no"
        )
        assert error_of(bad_status) == (403, "bad_signature")
    finally:
        settings.twilio_auth_token, settings.public_base_url = saved


def test_without_a_twilio_auth_token_the_webhook_answers_503(world: World) -> None:
    response = world.app.test_client().post("/webhook/twilio/voice", data={"CallSid": "CA1"})
    assert error_of(response) == (503, "twilio_not_configured")


def test_the_media_route_answers_plain_http_with_a_json_error(world: World) -> None:
    response = world.app.test_client().get("/ws/twilio/media")
    assert response.status_code in (400, 404) and response.json["error"]


def _streaming(sid_suffix: str, caller: str) -> service.StreamSetup:
    call = _call(sid_suffix, caller=caller)
    call.stream_started_at = call.started_at
    db_session.commit()
    return service.StreamSetup(
        TenantId(call.business_id), call.id, call.call_sid, call.from_number, call.to_number, "prompt"
    )


def _lead_of(setup: service.StreamSetup) -> Lead:
    db_session.remove()
    call = db_session.get(Call, setup.call_id)
    assert call is not None and call.lead_id is not None
    lead = db_session.get(Lead, call.lead_id)
    assert lead is not None
    return lead


def test_every_save_lead_lands_on_the_lead_during_the_call_as_one_block_per_call(world: World) -> None:
    with world.app.app_context():
        setup = _streaming("61", "+972526000001")
        service.save_lead_from_tool(
            setup,
            {"name": "דנה", "reason": "תור לתספורת", "preferred_callback_time": "מחר", "summary": "רוצה תור"},
        )
        lead = _lead_of(setup)
        assert lead.full_name == "דנה" and lead.name_source == "agent"
        assert "סיבת הפנייה: תור לתספורת" in lead.notes and "זמן מועדף לחזרה: מחר" in lead.notes
        assert "רוצה תור" in lead.notes
        # The AI learns more: the block is replaced, and its newer name replaces the one it gave before.
        service.save_lead_from_tool(
            setup, {"name": "דנה כהן", "reason": "צבע ותספורת", "summary": "רוצה תור לצבע ביום חמישי"}
        )
        lead = _lead_of(setup)
        assert lead.full_name == "דנה כהן"
        assert lead.notes.count("שיחה נכנסת") == 1, lead.notes
        assert "סיבת הפנייה: צבע ותספורת" in lead.notes and "תור לתספורת" not in lead.notes
        assert "זמן מועדף לחזרה: מחר" in lead.notes  # what it said before and did not change stays
        assert "דנה כהן" in lead.search_text
        # The end of the call replaces the block once more instead of adding a second one.
        service.finish_call({"call_sid": setup.call_sid, "business_id": setup.tenant, "transcript": []})
        lead = _lead_of(setup)
        assert lead.notes.count("שיחה נכנסת") == 1 and "רוצה תור לצבע ביום חמישי" in lead.notes
        # A second call from the same number adds its own block next to the first.
        second = _streaming("62", "+972526000001")
        service.save_lead_from_tool(second, {"summary": "שואלת על מחירים"})
        lead = _lead_of(second)
        assert lead.notes.count("שיחה נכנסת") == 2 and "רוצה תור לצבע ביום חמישי" in lead.notes


def test_a_name_a_human_wrote_is_kept_and_notes_a_human_wrote_stay(world: World) -> None:
    a = world.as_("business_a")
    created = a.post("/api/leads", {"full_name": "משה לוי", "phone": "0526000002", "notes": "לקוח קבוע"})
    assert created.status_code == 201, created.json
    with world.app.app_context():
        setup = _streaming("63", "+972526000002")
        service.save_lead_from_tool(setup, {"name": "מוישה", "summary": "רוצה לבטל תור"})
        lead = _lead_of(setup)
        assert lead.id == created.json["id"] and lead.full_name == "משה לוי" and lead.name_source == "human"
        assert lead.notes.startswith("לקוח קבוע\n") and "רוצה לבטל תור" in lead.notes
        service.save_lead_from_tool(setup, {"name": "מוישה", "summary": "רוצה להזיז את התור"})
        lead = _lead_of(setup)
        assert lead.notes.startswith("לקוח קבוע\n") and "רוצה לבטל תור" not in lead.notes
    # A lead created without a name gets the AI's.
    created = a.post("/api/leads", {"phone": "0526000003"})
    assert created.status_code == 201, created.json
    with world.app.app_context():
        setup = _streaming("64", "+972526000003")
        service.save_lead_from_tool(setup, {"name": "רותי", "summary": "שאלה"})
        assert _lead_of(setup).full_name == "רותי"


def test_a_name_an_agent_wrote_and_a_human_corrected_is_the_humans(world: World) -> None:
    with world.app.app_context():
        first = _streaming("65", "+972526000004")
        service.save_lead_from_tool(first, {"name": "יוסי", "summary": "שאלה"})
        lead_id = _lead_of(first).id
    corrected = world.as_("business_a").patch(f"/api/leads/{lead_id}", {"full_name": "יוסף כהן"})
    assert corrected.status_code == 200
    with world.app.app_context():
        second = _streaming("66", "+972526000004")
        service.save_lead_from_tool(second, {"name": "יוסי", "summary": "שוב"})
        lead = _lead_of(second)
        assert lead.full_name == "יוסף כהן" and lead.name_source == "human"


def test_the_migration_marks_names_the_agents_wrote_and_no_human_changed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrate.db'}"
    command.upgrade(alembic_config(url), "0007")
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine, only=["businesses", "leads", "lead_events"])
    businesses, leads, events = (tables.tables[n] for n in ("businesses", "leads", "lead_events"))
    now = datetime(2026, 1, 1)
    rows = [
        (1, "call", "מהשיחה"),  # an agent wrote it, nobody changed it
        (2, "whatsapp", "Dana"),
        (3, "call", "שם שתוקן"),  # then a human edited the name
        (4, "manual", "ידני"),
        (5, "call", "שם מייבוא"),  # a blank the import filled
        (6, "whatsapp", "שם אחר"),  # the WhatsApp AI updated other fields since
    ]
    timeline = [
        (3, "updated", {"changes": {"full_name": ["x", "שם שתוקן"]}}),
        (5, "merged", {"import_row": 2, "full_name": "שם מייבוא"}),
        (6, "updated", {"by": "whatsapp_ai", "fields": ["full_name", "summary"]}),
    ]
    stamps = {"created_at": now, "updated_at": now}
    with engine.begin() as db:
        db.execute(
            insert(businesses).values(id=1, name="b", timezone="Asia/Jerusalem", is_active=True, **stamps)
        )
        for lead_id, source, name in rows:
            db.execute(
                insert(leads).values(
                    id=lead_id,
                    business_id=1,
                    full_name=name,
                    phone=f"+97252600010{lead_id}",
                    phone_valid=True,
                    source=source,
                    status="new",
                    notes="",
                    search_text="",
                    **stamps,
                )
            )
        for lead_id, kind, data in timeline:
            db.execute(insert(events).values(business_id=1, lead_id=lead_id, kind=kind, at=now, data=data))
    command.upgrade(alembic_config(url), "heads")
    with engine.begin() as db:
        sources = dict(db.execute(text("SELECT id, name_source FROM leads ORDER BY id")).all())
    engine.dispose()
    assert sources == {1: "agent", 2: "agent", 3: "human", 4: "human", 5: "human", 6: "agent"}


def test_behind_a_proxy_without_public_base_url_the_forwarded_headers_make_the_signed_url(
    database_url: str, world: World
) -> None:
    proxied: Flask = create_app(
        make_settings(database_url, proxy_fix_hops=1, twilio_auth_token="tw-token", public_base_url=""),
        TESTING=True,
    )
    form = {
        "CallSid": "CA" + "5" * 32,
        "From": "+972501234567",
        "To": "+97235550101",
        "CallStatus": "ringing",
    }
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.test"}
    answered = _signed(proxied, "/webhook/twilio/voice", form, **forwarded)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    twiml = parse_twiml(answered.get_data(as_text=True))
    assert twiml is not None and twiml.url == "wss://calls.example.test/ws/twilio/media"
    # The same signature, without the headers: the app sees http://localhost/…, which Twilio did not sign.
    assert error_of(_signed(proxied, "/webhook/twilio/voice", form)) == (403, "bad_signature")
    # One hop is trusted, not two: a forged inner value does not move the URL.
    spoofed = {**forwarded, "X-Forwarded-Host": "evil.example, calls.example.test"}
    assert _signed(proxied, "/webhook/twilio/voice", form, **spoofed).status_code == 200
