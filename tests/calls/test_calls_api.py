"""The call log API (tenant-scoped, filters, keyset pagination) and the webhooks' refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from server.app import create_app
from server.calls import service, tokens
from server.calls.models import Call
from server.db import db_session, utcnow
from server.leads.models import Lead
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
