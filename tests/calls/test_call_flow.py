"""Whole calls through the real server: fake Twilio ↔ gunicorn (gevent) ↔ fake OpenAI Realtime."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from server.calls.models import Call
from server.db import db_session
from server.leads.models import Lead, LeadEvent
from tests.calls.conftest import CALLER, NUMBER_A, NUMBER_B, PhoneCall, saved_call, stats, wait_until
from tests.conftest import World
from tests.fakes.calls_openai_realtime import FakeAiConnection, FakeRealtimeServer


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def next_connection(ai: FakeRealtimeServer, before: int) -> FakeAiConnection:
    conn = await until(
        lambda: ai.connections[before] if len(ai.connections) > before else None, what="AI session"
    )
    await until(lambda: conn.session, what="session.update")
    return conn  # type: ignore[no-any-return]


def set_prompt(world: World, who: str, calls_prompt: str) -> None:
    api = world.as_(who)
    response = api.put(
        "/api/business/current/prompt", {"calls_prompt": calls_prompt, "whatsapp_prompt": "wa"}
    )
    assert response.status_code == 200, response.json


def caller_frame(tone: int) -> Callable[[int], bytes]:
    return lambda i: bytes([tone, i % 256]) * 80


def test_a_full_call_greets_bridges_audio_saves_the_lead_and_the_call(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    set_prompt(world, "business_a", "את המזכירה של מספרה א. PROMPT-A-FULL")
    call = PhoneCall(call_server, NUMBER_A)
    response = call.ring()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    assert '<Say language="he-IL">' in call.twiml and "<Hangup" in call.twiml
    before = fake_ai.connection_count()
    result: dict[str, Any] = {}

    async def scenario() -> None:
        stream = await call.answer()
        ai = await next_connection(fake_ai, before)
        # The session: the business's prompt from the database, μ-law both ways, VAD, transcription, tool.
        assert "PROMPT-A-FULL" in ai.instructions
        assert ai.headers["Authorization"] == "Bearer sk-test-realtime" and "model=gpt-realtime" in ai.path
        audio = ai.session["audio"]
        assert audio["input"]["format"] == {"type": "audio/pcmu"} == audio["output"]["format"]
        assert audio["input"]["turn_detection"]["type"] == "server_vad"
        assert audio["input"]["transcription"]["language"] == "he"
        assert [t["name"] for t in ai.session["tools"]] == ["save_lead"]
        # The greeting comes back to the caller as media frames, byte for byte.
        await until(lambda: sum(len(a) for _, a in stream.received.media) >= 4800, what="greeting audio")
        assert b"".join(a for _, a in stream.received.media)[:4800] == bytes([0x41]) * 4800
        await until(lambda: len(stream.received.marks) >= 5, what="marks played")
        # The caller's audio reaches the AI untouched and in order.
        stream.audio_source = caller_frame(0x11)
        stream.start_audio()
        await until(lambda: len(ai.appended) >= 25, what="caller audio at the AI")
        assert ai.appended[:25] == [caller_frame(0x11)(i) for i in range(25)]
        ai.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_caller_1",
                "content_index": 0,
                "transcript": "שלום, אני דנה כהן ורוצה לקבוע תור",
            }
        )
        arguments = {
            "name": "דנה כהן",
            "reason": "תור לתספורת",
            "preferred_callback_time": "מחר בבוקר",
            "summary": "רוצה תור לתספורת השבוע",
        }
        # The model calls the tool in a response that goes on for 300 ms after the arguments (it
        # also speaks, say): the tool's output arrives while that response is still in progress.
        ai.call_tool("call_save_1", "save_lead", json.dumps(arguments, ensure_ascii=False), hold_ms=300)
        outputs = await until(ai.tool_outputs, what="the tool's output")
        assert outputs[0]["call_id"] == "call_save_1"
        output = json.loads(outputs[0]["output"])
        assert output["ok"] is True and isinstance(output["lead_id"], int)
        result["lead_id"] = output["lead_id"]
        # The lead exists during the call already, with everything the tool said.
        db_session.remove()
        lead = db_session.get(Lead, output["lead_id"])
        assert (
            lead is not None
            and lead.full_name == "דנה כהן"
            and lead.phone == CALLER
            and lead.source == "call"
        )
        assert "תור לתספורת" in lead.notes and "מחר בבוקר" in lead.notes, lead.notes
        # The AI goes on speaking once its tool response is over: one response.create, never refused.
        await until(lambda: ai.responses >= 3, what="the AI's answer after the tool output")
        thanks = bytes([0x40 + 3]) * 800
        await until(lambda: any(a == thanks for _, a in stream.received.media), what="the answer's audio")
        assert ai.refused == [] and ai.errors == []
        await stream.dtmf("5")
        await until(
            lambda: any("5" in json.dumps(i) for i in ai.items if i.get("role") == "user"),
            what="DTMF at the AI",
        )
        await asyncio.sleep(0.3)
        await stream.stop()
        await until(lambda: ai.closed, what="the AI session closed")

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.business_id == world.business_a
    assert saved.status == "completed" and saved.ai_outcome == "ok" and saved.end_reason == "caller_hung_up"
    assert saved.lead_id == result["lead_id"]
    assert saved.duration_seconds is not None and saved.duration_seconds >= 1
    speakers = [(t["speaker"], t["text"]) for t in saved.transcript]
    assert ("agent", "שלום, הגעתם לעסק. איך אפשר לעזור?") in speakers
    assert ("caller", "שלום, אני דנה כהן ורוצה לקבוע תור") in speakers
    assert ("caller", "DTMF 5") in speakers
    assert ("agent", "תודה, רשמתי את הפרטים.") in speakers
    assert (
        saved.ai_usage["responses"] >= 2
        and saved.ai_usage["total_tokens"] == 30 * saved.ai_usage["responses"]
    )
    assert saved.captured["reason"] == "תור לתספורת"
    lead = db_session.get(Lead, result["lead_id"])
    assert lead is not None and "תור לתספורת" in lead.notes and "מחר בבוקר" in lead.notes
    linked = db_session.scalars(
        select(LeadEvent).where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "call_linked")
    ).all()
    assert [e.data["call_id"] for e in linked] == [saved.id]

    # The call log: the business sees it with the transcript; the other business gets 404.
    a = world.as_("business_a")
    page = a.get("/api/calls").json
    assert [c["call_sid"] for c in page["items"]] == [call.sid]
    detail = a.get(f"/api/calls/{saved.id}").json
    assert detail["lead_id"] == lead.id and detail["transcript"][0]["speaker"] in ("agent", "caller")
    assert world.as_("business_b").get(f"/api/calls/{saved.id}").status_code == 404

    # Twilio's status callback completes the picture with its own duration.
    assert call.status("completed", CallDuration="7").status_code == 204
    db_session.remove()
    row = db_session.scalar(select(Call).where(Call.call_sid == call.sid))
    assert row is not None and row.duration_seconds == 7 and row.status == "completed"


def test_the_prompt_is_read_from_the_database_when_each_call_starts(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    for version in ("PROMPT-V1", "PROMPT-V2"):
        set_prompt(world, "business_a", f"הנחיות {version}")
        call = PhoneCall(call_server, NUMBER_A)
        assert call.ring().status_code == 200
        before = fake_ai.connection_count()

        async def scenario(call: PhoneCall = call, before: int = before, version: str = version) -> None:
            stream = await call.answer()
            ai = await next_connection(fake_ai, before)
            assert version in ai.instructions and (
                "PROMPT-V1" not in ai.instructions or version == "PROMPT-V1"
            )
            await stream.stop()

        asyncio.run(scenario())
        saved_call(call.sid)


def test_barge_in_clears_twilio_and_truncates_at_what_was_heard(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    fake_ai.reply_ms = 4000  # a long greeting, sent at once (faster than real time, as OpenAI does)
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.start_audio()
        ai = await next_connection(fake_ai, before)
        await until(lambda: sum(len(a) for _, a in stream.received.media) >= 32000, what="the whole greeting")
        first_audio = stream.received.media[0][0]
        await until(lambda: time.monotonic() - first_audio >= 1.2, what="1.2 s of playback")
        ai.send(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1200, "item_id": "item_caller_x"}
        )
        await until(lambda: stream.received.clears, what="clear")
        played_ms = (stream.received.clears[0] - first_audio) * 1000
        truncate = (await until(lambda: ai.truncates, what="truncate"))[0]
        assert truncate["item_id"] == f"item_{ai.index}_1" and truncate["content_index"] == 0
        # What the caller heard per the fake's playback clock, within a frame or so; never past the end.
        assert abs(truncate["audio_end_ms"] - played_ms) < 120, (truncate, played_ms)
        assert 800 < truncate["audio_end_ms"] < 4000
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert any(t.get("interrupted") for t in saved.transcript if t["speaker"] == "agent")


def test_two_businesses_calling_at_once_never_see_each_others_prompt(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    set_prompt(world, "business_a", "PROMPT-OF-A")
    set_prompt(world, "business_b", "PROMPT-OF-B")
    calls = {0x11: PhoneCall(call_server, NUMBER_A), 0x22: PhoneCall(call_server, NUMBER_B, "+972527654321")}
    for call in calls.values():
        assert call.ring().status_code == 200
    before = fake_ai.connection_count()

    async def scenario() -> None:
        streams = await asyncio.gather(*(call.answer() for call in calls.values()))
        for tone, stream in zip(calls, streams, strict=True):
            stream.audio_source = caller_frame(tone)
            stream.start_audio()
        await until(lambda: fake_ai.connection_count() >= before + 2, what="two AI sessions")
        conns = fake_ai.connections[before : before + 2]
        await until(lambda: all(len(c.appended) >= 10 for c in conns), what="audio on both sessions")
        for conn in conns:
            tones = {frame[0] for frame in conn.appended}
            assert len(tones) == 1, "one call's audio leaked into another's session"
            mine, theirs = (
                ("PROMPT-OF-A", "PROMPT-OF-B") if tones == {0x11} else ("PROMPT-OF-B", "PROMPT-OF-A")
            )
            assert mine in conn.instructions and theirs not in conn.instructions
        await asyncio.gather(*(s.stop() for s in streams))

    asyncio.run(scenario())
    a, b = (saved_call(c.sid) for c in calls.values())
    assert (a.business_id, b.business_id) == (world.business_a, world.business_b)


def test_a_stream_without_a_valid_call_token_gets_no_ai_session(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()
    from tests.fakes.calls_twilio import parse_twiml

    good = parse_twiml(call.twiml)
    assert good is not None

    async def refused(parameters: dict[str, str]) -> int | None:
        stream = await call.answer(parameters=parameters)
        return await stream.wait_closed()

    assert asyncio.run(refused({"business_id": str(world.business_a), "token": "forged"})) == 1008
    assert (
        asyncio.run(refused({"business_id": str(world.business_b), "token": good.parameters["token"]}))
        == 1008
    )
    assert asyncio.run(refused({})) == 1008
    assert fake_ai.connection_count() == before

    async def used_twice() -> int | None:
        first = await call.answer()
        await next_connection(fake_ai, before)
        second_call = PhoneCall(call.base, NUMBER_A, sid=call.sid, twiml=call.twiml)
        second = await second_call.answer()
        code = await second.wait_closed()
        await first.stop()
        return code

    assert asyncio.run(used_twice()) == 1008  # a token opens one stream only
    assert fake_ai.connection_count() == before + 1
    saved_call(call.sid)


def test_the_ai_down_at_call_start_plays_the_fallback_and_still_records_the_lead(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    fake_ai.refuse_handshakes = 1
    call = PhoneCall(call_server, NUMBER_A, from_number="+972541112233")
    call.ring()
    from tests.fakes.calls_twilio import parse_twiml

    twiml = parse_twiml(call.twiml)
    assert twiml is not None and twiml.after_connect == ["Say", "Hangup"]

    async def scenario() -> int | None:
        stream = await call.answer()
        stream.start_audio()
        return await stream.wait_closed()  # the server ends the stream: Twilio goes on to <Say>

    assert asyncio.run(scenario()) == 1000
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "unreachable" and saved.end_reason == "ai_unreachable"
    lead = db_session.get(Lead, saved.lead_id)
    assert lead is not None and lead.phone == "+972541112233" and lead.source == "call"
    assert "שיחה נכנסת" in lead.notes


def test_an_ai_drop_mid_call_reconnects_once_with_the_conversation_so_far(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.audio_source = caller_frame(0x33)
        stream.start_audio()
        first = await next_connection(fake_ai, before)
        await until(lambda: len(stream.received.media) >= 6, what="greeting")
        first.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_c1",
                "transcript": "אני רוצה לשמוע על המחירים",
            }
        )
        await asyncio.sleep(0.2)
        first.drop()
        second = await next_connection(fake_ai, before + 1)
        assert second.instructions == first.instructions
        await until(lambda: len(second.items) >= 3, what="the conversation replayed")
        texts = [
            (i["role"], i["content"][0]["type"], i["content"][0]["text"])
            for i in second.items
            if i.get("role")
        ]
        assert ("assistant", "output_text", "שלום, הגעתם לעסק. איך אפשר לעזור?") in texts
        assert ("user", "input_text", "אני רוצה לשמוע על המחירים") in texts
        await until(lambda: len(second.appended) >= 5, what="caller audio after the reconnect")
        assert stream.close_code is None
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "reconnected" and saved.end_reason == "caller_hung_up"


def test_a_second_ai_drop_ends_the_stream_with_the_fallback(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A, from_number="+972549998877")
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> int | None:
        stream = await call.answer()
        stream.start_audio()
        first = await next_connection(fake_ai, before)
        fake_ai.refuse_handshakes = 1  # the one reconnect fails
        first.drop()
        return await stream.wait_closed()

    assert asyncio.run(scenario()) == 1000
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "dropped" and saved.end_reason == "ai_dropped"
    assert saved.lead_id is not None


def test_twilio_closing_first_leaks_nothing(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    wait_until(lambda: stats(call_server)["bridges"] == 0, what="no live bridges")
    baseline = stats(call_server)
    before = fake_ai.connection_count()
    calls = [PhoneCall(call_server, NUMBER_A, from_number=f"+97250123450{i}") for i in range(5)]
    for call in calls:
        call.ring()

    async def scenario() -> None:
        streams = await asyncio.gather(*(c.answer() for c in calls))
        for stream in streams:
            stream.start_audio()
        await until(lambda: fake_ai.connection_count() >= before + 5, what="five AI sessions")
        deadline = time.monotonic() + 15
        while (await asyncio.to_thread(stats, call_server))["bridges"] != 5:  # off the fakes' event loop
            assert time.monotonic() < deadline, "five live bridges"
            await asyncio.sleep(0.05)
        # The caller's side goes away without a `stop` (a dropped line), mid-greeting.
        for stream in streams:
            assert stream.ws is not None and stream.ws.transport is not None
            stream.ws.transport.abort()
            await stream.close()
        conns = fake_ai.connections[before : before + 5]
        await until(lambda: all(c.closed for c in conns), what="every AI session closed")

    asyncio.run(scenario())
    try:
        for call in calls:
            assert saved_call(call.sid).end_reason == "caller_hung_up"
    except AssertionError:
        print(httpx.get(f"{call_server}/internal/calls/stats?stacks=1").text)
        raise
    after = wait_until(
        lambda: (s := stats(call_server))["bridges"] == 0 and s["greenlets"] <= baseline["greenlets"] and s,
        what="greenlets back to the baseline",
    )
    # Idle pooled database connections (PostgreSQL's pool grows under concurrent calls) are not leaks.
    idle_before, idle_after = baseline["db_pooled"], after["db_pooled"]
    assert after["sockets"] - idle_after <= baseline["sockets"] - idle_before, (baseline, after)
    assert after["db_checked_out"] == 0
