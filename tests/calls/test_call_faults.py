"""What goes wrong on a live call, through the real server: fake Twilio ↔ gunicorn ↔ fake OpenAI Realtime."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from typing import Any

import pytest

from tests.calls.conftest import (
    NUMBER_A,
    START_TIMEOUT_S,
    PhoneCall,
    saved_call,
    stats,
    wait_until,
)
from tests.calls.test_call_flow import caller_frame, next_connection, until
from tests.conftest import World
from tests.fakes.calls_openai_realtime import FakeRealtimeServer, reply_audio


def tone_frames(stream: Any, tone: int) -> list[bytes]:
    return [a for _, a in stream.received.media if a and a[0] == tone and a == bytes([tone]) * len(a)]


def test_a_key_pressed_while_the_ai_speaks_is_answered_once_it_has_finished(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    fake_ai.reply_ms, fake_ai.pace_ms = 1500, 60  # a greeting still being generated for ~0.9 s
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.start_audio()
        ai = await next_connection(fake_ai, before)
        await until(lambda: tone_frames(stream, 0x41), what="the greeting starts")
        assert ai.active is not None
        await stream.dtmf("3")
        await until(lambda: ai.responses >= 2, timeout=8, what="a response to the key")
        await until(lambda: tone_frames(stream, 0x42), what="the answer's audio")
        assert ai.refused == [] and ai.errors == []
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert ("caller", "DTMF 3") in [(t["speaker"], t["text"]) for t in saved.transcript]
    assert not any(t["speaker"] == "system" for t in saved.transcript), saved.transcript


def test_a_silent_ai_socket_is_noticed_within_seconds_and_reconnected_with_the_conversation(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.audio_source = caller_frame(0x44)
        stream.start_audio()
        first = await next_connection(fake_ai, before)
        await until(lambda: tone_frames(stream, 0x41), what="the greeting")
        first.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_c1",
                "transcript": "מה שעות הפתיחה?",
            }
        )
        await asyncio.sleep(0.2)
        first.freeze()  # the network goes quiet: no FIN, no RST, no pong
        frozen_at = time.monotonic()
        second = await next_connection(fake_ai, before + 1)
        assert time.monotonic() - frozen_at < 6.5
        await until(lambda: len(second.items) >= 3, what="the conversation replayed")
        texts = [i["content"][0]["text"] for i in second.items if i.get("role") == "user"]
        assert "מה שעות הפתיחה?" in texts
        await until(lambda: len(second.appended) >= 5, what="caller audio on the new session")
        assert stream.close_code is None
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "reconnected" and saved.end_reason == "caller_hung_up"


def test_malformed_ai_events_are_skipped_and_the_call_goes_on(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.start_audio()
        ai = await next_connection(fake_ai, before)
        await until(lambda: tone_frames(stream, 0x41), what="the greeting")
        await until(lambda: ai.active is None, what="the greeting's response done")
        ai.send_many(
            [
                {"type": "response.output_audio.delta", "item_id": "item_bad"},  # no delta
                {"type": "response.output_audio.delta", "item_id": "item_bad", "delta": 42},
                {"type": "input_audio_buffer.speech_started", "audio_start_ms": "soon"},
                {"type": "response.done", "response": "not an object"},
                {"type": "error", "error": ["not", "an", "object"]},
            ]
        )
        await asyncio.sleep(0.3)
        await stream.dtmf("7")  # the AI still answers: its reader survived
        await until(lambda: tone_frames(stream, 0x42), what="the answer after the bad events")
        assert fake_ai.connection_count() == before + 1, "no reconnect: the socket was fine"
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "ok" and saved.end_reason == "caller_hung_up"


def test_malformed_twilio_frames_are_skipped_and_the_call_goes_on(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        ai = await next_connection(fake_ai, before)
        sid = stream.stream_sid
        await stream.send_raw(
            [
                "not json",
                "[1, 2, 3]",
                json.dumps({"event": "media", "streamSid": sid}),
                json.dumps({"event": "media", "streamSid": sid, "media": "oops"}),
                json.dumps({"event": "media", "media": {"payload": "////", "timestamp": "1e3"}}),
                json.dumps({"event": "media", "media": {"timestamp": "20"}}),
                json.dumps({"event": "media", "media": {"payload": 12, "timestamp": "20"}}),
                json.dumps({"event": "mark", "mark": "not an object"}),
                json.dumps({"event": "dtmf", "dtmf": {}}),
                json.dumps(stream.media_event(1, bytes([0x55]) * 160)),
            ]
        )
        await until(lambda: ai.appended, what="the good frame after the bad ones")
        assert ai.appended == [bytes([0x55]) * 160]
        stream.audio_source = caller_frame(0x66)
        stream.start_audio()
        await until(lambda: len(ai.appended) >= 6, what="audio keeps flowing")
        assert stream.close_code is None
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.ai_outcome == "ok" and saved.end_reason == "caller_hung_up"


def test_barge_in_cuts_the_queued_items_too_and_drops_what_still_arrives_of_them(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    fake_ai.reply_ms = 1000  # each reply is sent at once: Twilio queues it
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.start_audio()
        ai = await next_connection(fake_ai, before)
        await until(lambda: len(tone_frames(stream, 0x41)) == 10, what="the greeting")
        first_audio = stream.received.media[0][0]
        await stream.dtmf("1")  # a second reply, queued at Twilio behind the greeting
        await until(lambda: len(tone_frames(stream, 0x42)) == 10, what="the second reply, queued")
        await until(lambda: time.monotonic() - first_audio >= 0.4, what="0.4 s of the greeting played")
        greeting, queued = f"item_{ai.index}_1", f"item_{ai.index}_2"
        late = reply_audio(200, tone=0x77)
        # The caller speaks; more of the interrupted items is still arriving, in the same read and later.
        ai.send_many(
            [
                {"type": "input_audio_buffer.speech_started", "audio_start_ms": 400, "item_id": "item_u1"},
                {"type": "response.output_audio.delta", "item_id": queued, "delta": late[0]},
                {"type": "response.output_audio.delta", "item_id": greeting, "delta": late[1]},
            ]
        )
        await until(lambda: stream.received.clears, what="clear")
        await until(lambda: len(ai.truncates) >= 2, what="both items truncated")
        cuts = {t["item_id"]: t["audio_end_ms"] for t in ai.truncates}
        assert set(cuts) == {greeting, queued}
        assert 250 < cuts[greeting] < 700 and cuts[queued] == 0, cuts
        ai.send({"type": "response.output_audio.delta", "item_id": queued, "delta": late[0]})
        await stream.dtmf("2")  # a new response plays again
        await until(lambda: tone_frames(stream, 0x43), what="the next reply")
        assert tone_frames(stream, 0x77) == [], "audio of an interrupted item reached the caller"
        assert ai.errors == []
        await stream.stop()

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    agent = [t for t in saved.transcript if t["speaker"] == "agent"]
    assert [t.get("interrupted") for t in agent[:2]] == [True, True], agent
    assert agent[1]["heard_ms"] == 0


def test_a_reconnect_racing_a_hang_up_leaks_no_ai_session(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    wait_until(lambda: stats(call_server)["bridges"] == 0, what="no live bridges")
    baseline = stats(call_server)
    call = PhoneCall(call_server, NUMBER_A)
    call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await call.answer()
        stream.start_audio()
        first = await next_connection(fake_ai, before)
        await until(lambda: tone_frames(stream, 0x41), what="the greeting")
        fake_ai.handshake_delay = 1.0  # the reconnect takes a second...
        first.drop()
        await asyncio.sleep(0.3)
        await stream.stop()  # ...and the caller hangs up meanwhile
        second = await next_connection(fake_ai, before + 1)
        await until(lambda: second.closed, timeout=1.5, what="the late AI session closed at once")

    asyncio.run(scenario())
    saved = saved_call(call.sid)
    assert saved.end_reason == "caller_hung_up"
    after = wait_until(
        lambda: (s := stats(call_server))["bridges"] == 0 and s["greenlets"] <= baseline["greenlets"] and s,
        what="greenlets back to the baseline",
    )
    assert after["sockets"] - after["db_pooled"] <= baseline["sockets"] - baseline["db_pooled"], (
        baseline,
        after,
    )
    assert after["db_checked_out"] == 0


def test_what_twilio_sends_right_after_start_in_the_same_read_is_not_lost(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    talking, hanging_up = PhoneCall(call_server, NUMBER_A), PhoneCall(call_server, NUMBER_A)
    talking.ring()
    hanging_up.ring()
    before = fake_ai.connection_count()

    async def scenario() -> None:
        stream = await talking.answer(send_start=False)
        frames = [bytes([0x20 + i]) * 160 for i in range(3)]
        await stream.send_burst(
            [stream.start_event(), *(stream.media_event(i, f) for i, f in enumerate(frames))]
        )
        ai = await next_connection(fake_ai, before)
        await until(lambda: len(ai.appended) >= 3, what="the three frames at the AI")
        assert ai.appended == frames
        await stream.stop()
        # A `stop` in the same read as `start` ends the call there and then.
        quick = await hanging_up.answer(send_start=False)
        stop = {"event": "stop", "streamSid": quick.stream_sid, "stop": {"callSid": hanging_up.sid}}
        await quick.send_burst([quick.start_event(), stop])
        assert await quick.wait_closed(5) == 1000

    asyncio.run(scenario())
    assert saved_call(talking.sid).end_reason == "caller_hung_up"
    assert saved_call(hanging_up.sid).end_reason == "caller_hung_up"


def test_a_websocket_that_never_starts_is_closed_after_the_start_timeout(
    world: World, call_server: str, fake_ai: FakeRealtimeServer
) -> None:
    calls = [PhoneCall(call_server, NUMBER_A) for _ in range(2)]
    for call in calls:
        call.ring()
    before = fake_ai.connection_count()

    async def scenario() -> list[float]:
        silent = await calls[0].answer(send_start=False)  # `connected`, then nothing
        chatty = await calls[1].answer(send_start=False)  # media frames, but never `start`
        chatty.start_audio()
        opened = time.monotonic()
        codes = await asyncio.gather(silent.wait_closed(8), chatty.wait_closed(8))
        assert codes == [1008, 1008]
        return [time.monotonic() - opened]

    [took] = asyncio.run(scenario())
    assert took < START_TIMEOUT_S + 2
    assert fake_ai.connection_count() == before


def test_a_call_waiting_for_the_database_never_stalls_another_calls_audio(
    world: World, call_server: str, fake_ai: FakeRealtimeServer, database_url: str
) -> None:
    if not database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's write lock blocks in C; PostgreSQL's driver waits cooperatively")
    live = PhoneCall(call_server, NUMBER_A, from_number="+972501110001")
    starting = PhoneCall(call_server, NUMBER_A, from_number="+972501110002")
    live.ring()
    starting.ring()
    before = fake_ai.connection_count()

    async def scenario() -> list[float]:
        stream = await live.answer()
        stream.audio_source = caller_frame(0x12)
        stream.start_audio()
        ai = await next_connection(fake_ai, before)
        await until(lambda: len(ai.appended) >= 10, what="the live call's audio")
        lock = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=5, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # another writer holds the database for a second
        try:
            window_start = time.monotonic()
            other = await starting.answer()  # its start has to write: it waits for the lock
            await asyncio.sleep(1.0)
        finally:
            lock.execute("COMMIT")
            lock.close()
        window_end = time.monotonic()
        await next_connection(fake_ai, before + 1)  # the waiting call got going afterwards
        arrivals = [t for t in ai.appended_at if window_start <= t <= window_end]
        await asyncio.gather(stream.stop(), other.stop())
        return [b - a for a, b in itertools.pairwise(arrivals)]

    gaps = asyncio.run(scenario())
    assert len(gaps) > 30, f"only {len(gaps) + 1} of the live call's frames reached the AI in 1 s"
    assert max(gaps) < 0.3, f"the live call's audio stalled {max(gaps):.2f} s"
    saved_call(live.sid)
    saved_call(starting.sid)


def test_the_call_log_keeps_the_failed_outcome_filterable(world: World) -> None:
    response = world.as_("business_a").get("/api/calls?ai_outcome=failed")
    assert response.status_code == 200 and response.json["items"] == []
