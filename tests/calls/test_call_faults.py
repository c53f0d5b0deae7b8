"""What goes wrong on a live call, through the real server: fake Twilio ↔ gunicorn ↔ fake OpenAI Realtime."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.calls.conftest import (
    NUMBER_A,
    PhoneCall,
    saved_call,
)
from tests.calls.test_call_flow import caller_frame, next_connection, until
from tests.conftest import World
from tests.fakes.calls_openai_realtime import FakeRealtimeServer


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
