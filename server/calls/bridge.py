"""The realtime bridge of one call: Twilio's media stream ↔ the speech AI, both directions.

Two greenlets per call and nothing else: this one reads Twilio (caller audio → the AI's input buffer,
marks, DTMF, stop), the other reads the AI (audio → Twilio with marks, barge-in, transcripts, tool
calls). Database work (the stream's start, the save_lead tool, saving the call) runs off the hub
(service.off_loop / a Huey job), so a slow query never delays another call's audio.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gevent
import orjson
from gevent.pool import Group

from server.calls.models import AiOutcome
from server.calls.service import StreamRefused, StreamSetup
from server.providers.realtime import (
    AgentTranscript,
    AudioDelta,
    AudioDone,
    CallerTranscript,
    HistoryTurn,
    ProviderError,
    RealtimeEvent,
    RealtimeProvider,
    RealtimeSession,
    RealtimeUnavailable,
    ResponseDone,
    SessionConfig,
    SpeechStarted,
    ToolCall,
)
from server.providers.websocket import WebSocketError

log = logging.getLogger(__name__)

MARK_EVERY_MS = 100  # one Twilio mark per ~100 ms of AI audio: enough for barge-in arithmetic
START_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008
# What a malformed frame or event raises while it is read; anything else is a bug of ours.
MALFORMED = (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError)
_MAX_MALFORMED_LOGS = 5

SAVE_LEAD_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "save_lead",
    "description": (
        "Save the caller as a lead in the business's CRM. Call it as soon as you know the caller's name "
        "or why they are calling, and again whenever you learn more. Never read these details back as JSON."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The caller's full name"},
            "phone": {
                "type": "string",
                "description": "A number to call back, only if different from the number they call from",
            },
            "reason": {"type": "string", "description": "Why the caller is calling"},
            "preferred_callback_time": {
                "type": "string",
                "description": "When they prefer to be called back",
            },
            "summary": {"type": "string", "description": "A short summary of the conversation so far"},
        },
        "required": ["summary"],
    },
}

# Instructions (in English, which the model follows best) that wrap the business's own prompt: Hebrew
# by default, and the business's prompt wins where it says otherwise.
BASE_INSTRUCTIONS = (
    "You are the phone receptionist of this business. Speak Hebrew unless the caller speaks another "
    "language. Keep answers short: this is a phone call. Use the save_lead tool to record the caller's "
    "details as soon as you learn them. Where the business's instructions below differ from these "
    "(another language, another tone), follow the business's instructions.\n\n"
    "The business's instructions:\n"
)


class MediaSocket(Protocol):
    """Twilio's side: what server/calls/websocket.py hands over (fast or flask-sock transport)."""

    def recv_batch(self, timeout: float | None = None) -> list[bytes]: ...
    def send(self, message: bytes | str) -> None: ...
    def send_many(self, messages: list[bytes]) -> None: ...
    def close(self, code: int = 1000, reason: str = "") -> None: ...


class CallStore(Protocol):
    """The database side, already moved off the hub by the caller (views.py wires service + jobs)."""

    def begin(self, business_param: str, token: str, call_sid: str, stream_sid: str) -> StreamSetup: ...
    def save_lead(self, setup: StreamSetup, arguments: dict[str, Any]) -> int | None: ...
    def finish(self, record: dict[str, Any]) -> None: ...


@dataclass
class _Item:
    """One assistant audio item as sent to Twilio, for barge-in arithmetic (caller-clock ms)."""

    first_sent_ts: int
    sent_ms: int = 0


@dataclass
class _Ack:
    item_id: str
    end_ms: int  # how far into the item the acknowledged mark was
    at_ts: int  # caller clock when Twilio returned it


@dataclass
class CallRecord:
    transcript: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    captured: dict[str, Any] = field(default_factory=dict)


ACTIVE: set[CallBridge] = set()  # live bridges (the stats endpoint counts them)


class CallBridge:
    def __init__(
        self,
        twilio: MediaSocket,
        provider: RealtimeProvider,
        store: CallStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        start_timeout: float = START_TIMEOUT_S,
    ):
        self.twilio = twilio
        self.provider = provider
        self.store = store
        self.clock = clock
        self.start_timeout = start_timeout
        self.setup: StreamSetup | None = None
        self.stream_sid = ""
        self.ai: RealtimeSession | None = None
        self.ai_outcome = AiOutcome.ok
        self.end_reason = "caller_hung_up"
        self.ending = False
        self.reconnects = 0
        self.record = CallRecord()
        self.started_at = 0.0
        self.tasks = Group()  # tool calls in flight
        self.ai_reader: gevent.Greenlet | None = None
        # playback bookkeeping
        self.now_ts = 0  # Twilio media timestamp of the latest caller frame (caller clock, ms)
        self.items: dict[str, _Item] = {}
        self.playing_item: str | None = None
        self.marks: deque[tuple[int, str, int]] = deque()  # (seq, item_id, end_ms) not yet played
        self.mark_seq = 0
        self.unmarked_ms = 0
        self.last_ack: _Ack | None = None
        self.heard: dict[str, int] = {}  # item -> ms the caller heard before barging in
        self.interrupted: dict[str, None] = {}  # items cut by a barge-in (insertion-ordered set)
        self.agent_turns: dict[str, dict[str, Any]] = {}
        self.malformed = 0  # frames or events skipped because they were malformed

    # ---------------------------------------------------------------- the call

    def run(self) -> None:
        """The whole call; never raises (the socket was upgraded: nothing may answer it in HTTP)."""
        ACTIVE.add(self)
        try:
            self._call()
        except Exception:
            log.exception("call bridge failed on call %s", self.setup and self.setup.call_sid)
            self._fail()
        finally:
            try:
                self._end()
            except Exception:
                log.exception("could not end call %s cleanly", self.setup and self.setup.call_sid)
            ACTIVE.discard(self)

    def _call(self) -> None:
        early = self._start()
        if early is None:
            return
        self.started_at = self.clock()
        if self._open_ai(history=False):
            self.ai_reader = gevent.spawn(self._ai_loop)
            with contextlib.suppress(WebSocketError):  # the caller's side broke: same as a hang-up
                if not self._on_twilio(early):
                    self._twilio_loop()
        else:
            self.ai_outcome, self.end_reason = AiOutcome.unreachable, "ai_unreachable"
            # Closing the stream makes Twilio go on with the TwiML after <Connect>: the Hebrew
            # apology and hang-up.
            self.twilio.close()

    def _fail(self) -> None:
        """A bug of ours: the caller hears the fallback (what follows <Connect>); the call is still saved."""
        self.ai_outcome, self.end_reason = AiOutcome.failed, "bridge_error"
        self.twilio.close()

    def _start(self) -> list[bytes] | None:
        """Read `connected` and `start`; refuse the stream unless its call token is valid.

        Returns what arrived after `start` in the same read (media, even `stop`), or None if refused.
        """
        deadline = self.clock() + self.start_timeout
        while True:
            remaining = deadline - self.clock()
            try:
                if remaining <= 0:
                    raise TimeoutError
                batch = self.twilio.recv_batch(timeout=remaining)
            except TimeoutError:
                self.twilio.close(POLICY_VIOLATION, "no start message")
                return None
            if not batch:
                return None
            for index, raw in enumerate(batch):
                try:
                    event = orjson.loads(raw)
                    if event.get("event") != "start":
                        continue
                    start = event.get("start") or {}
                    params = start.get("customParameters") or {}
                    business_param = str(params.get("business_id") or "")
                    token = str(params.get("token") or "")
                    call_sid = str(start.get("callSid") or "")
                    stream_sid = str(event.get("streamSid") or start.get("streamSid") or "")
                except MALFORMED as exc:
                    self._skip("twilio", raw, exc)
                    continue
                self.stream_sid = stream_sid
                try:
                    self.setup = self.store.begin(business_param, token, call_sid, stream_sid)
                except StreamRefused as refusal:
                    log.warning("media stream refused: %s", refusal)
                    self.twilio.close(POLICY_VIOLATION, str(refusal))
                    return None
                return batch[index + 1 :]

    def _config(self, history: bool) -> SessionConfig:
        assert self.setup is not None
        turns = []
        if history:
            turns = [
                HistoryTurn(t["speaker"], t["text"])
                for t in self.record.transcript
                if t["speaker"] in ("caller", "agent") and t.get("text")
            ]
        return SessionConfig(
            instructions=BASE_INSTRUCTIONS + self.setup.prompt,
            tools=[SAVE_LEAD_TOOL],
            greet=not history,
            history=turns,
        )

    def _open_ai(self, history: bool) -> bool:
        try:
            session = self.provider.connect(self._config(history))
        except RealtimeUnavailable as exc:
            log.warning("speech AI unavailable for call %s: %s", self.setup and self.setup.call_sid, exc)
            self.ai = None
            return False
        if self.ending:  # the caller hung up while we connected: nobody will ever close this one
            session.close()
            self.ai = None
            return False
        self.ai = session
        return True

    def _twilio_loop(self) -> None:
        twilio = self.twilio
        while True:
            batch = twilio.recv_batch()
            if not batch or self._on_twilio(batch):
                return

    def _on_twilio(self, batch: list[bytes]) -> bool:
        """One read's worth of Twilio messages; True once the caller hung up (`stop`)."""
        loads = orjson.loads
        audio: list[str] = []
        stop = False
        for raw in batch:
            try:
                event = loads(raw)
                kind = event["event"]
                if kind == "media":
                    media = event["media"]
                    if media.get("track", "inbound") == "outbound":
                        continue
                    payload = media["payload"]
                    if not isinstance(payload, str):
                        raise TypeError("media payload is not base64 text")
                    timestamp = media.get("timestamp")
                    if timestamp:
                        self.now_ts = int(timestamp)
                    audio.append(payload)
                    continue
                if kind == "mark":
                    value = str(event["mark"]["name"])
                elif kind == "dtmf":
                    value = str(event["dtmf"]["digit"])
                elif kind == "stop":
                    stop = True
                    continue
                else:
                    continue
            except MALFORMED as exc:
                self._skip("twilio", raw, exc)
                continue
            if kind == "mark":
                self._on_mark(value)
            else:
                self._send_audio(audio)
                audio = []
                self._on_dtmf(value)
        self._send_audio(audio)
        if stop:
            self.end_reason = "caller_hung_up"
        return stop

    def _skip(self, side: str, raw: bytes, exc: Exception) -> None:
        self.malformed += 1
        if self.malformed <= _MAX_MALFORMED_LOGS:
            log.warning(
                "malformed %s message skipped on call %s (%r): %.200r",
                side,
                self.setup and self.setup.call_sid,
                exc,
                raw,
            )

    def _send_audio(self, audio: list[str]) -> None:
        ai = self.ai
        if not audio or ai is None:
            return  # while reconnecting, the caller's audio is dropped
        with contextlib.suppress(WebSocketError):  # the AI reader notices the drop and reconnects
            ai.append_audio(audio)

    def _on_dtmf(self, digit: str) -> None:
        if not digit:
            return
        self._turn("caller", f"DTMF {digit}", kind="dtmf")
        if self.ai is not None:
            with contextlib.suppress(WebSocketError):
                self.ai.send_user_text(f"The caller pressed the key {digit} on the phone keypad.")

    # ---------------------------------------------------------------- the AI side

    def _ai_loop(self) -> None:
        try:
            self._relay_ai()
        except Exception:
            log.exception("call bridge failed relaying the AI on call %s", self.setup and self.setup.call_sid)
            if not self.ending:
                self._fail()

    def _relay_ai(self) -> None:
        while True:
            ai = self.ai
            if ai is None:
                return
            with contextlib.suppress(WebSocketError):
                for batch in ai.events():
                    self._on_ai(batch)
            if self.ending:
                return
            # The AI socket dropped (or went silent) under a live call: one reconnect with the
            # conversation so far.
            log.warning("speech AI dropped during call %s", self.setup and self.setup.call_sid)
            self._forget_playback()
            if self.reconnects == 0:
                self.reconnects = 1
                self._turn("system", "ai_reconnect", kind="event")
                if self._open_ai(history=True):
                    self.ai_outcome = AiOutcome.reconnected
                    continue
                if self.ending:
                    return
            self.ai = None
            self.ai_outcome, self.end_reason = AiOutcome.dropped, "ai_dropped"
            self.twilio.close()  # Twilio plays the fallback <Say> that follows <Connect>
            return

    def _on_ai(self, batch: list[RealtimeEvent]) -> None:
        out: list[bytes] = []
        for event in batch:
            if isinstance(event, AudioDelta):
                self._play(event, out)
            elif isinstance(event, SpeechStarted):
                self._flush(out)
                self._barge_in()
            elif isinstance(event, AudioDone):
                if self.unmarked_ms:
                    self._mark(event.item_id, out)
            elif isinstance(event, AgentTranscript):
                turn = self._turn("agent", event.text)
                if turn is not None:
                    self.agent_turns[event.item_id] = turn
                    if event.item_id in self.heard:
                        turn.update(interrupted=True, heard_ms=self.heard[event.item_id])
            elif isinstance(event, CallerTranscript):
                self._turn("caller", event.text)
            elif isinstance(event, ToolCall):
                self.tasks.spawn(self._tool_call, event)
            elif isinstance(event, ResponseDone):
                self._add_usage(event.usage)
            elif isinstance(event, ProviderError):
                self._turn("system", f"ai_error {event.code}: {event.message}"[:300], kind="event")
        self._flush(out)

    def _flush(self, out: list[bytes]) -> None:
        if out:
            with contextlib.suppress(WebSocketError):  # the caller is gone; the Twilio loop ends the call
                self.twilio.send_many(out)
            out.clear()

    def _play(self, delta: AudioDelta, out: list[bytes]) -> None:
        item_id = delta.item_id
        if item_id in self.interrupted:
            return  # the caller barged in on this item: what is still arriving of it is never heard
        item = self.items.get(item_id)
        if item is None:
            item = self.items[item_id] = _Item(first_sent_ts=self.now_ts)
            if len(self.items) > 16:
                self.items.pop(next(iter(self.items)))
        payload = delta.payload
        ms = (len(payload) * 3 // 4 - payload.count("=", -2)) // 8  # μ-law: 8 bytes per ms
        item.sent_ms += ms
        self.playing_item = item_id
        out.append(
            b'{"event":"media","streamSid":"'
            + self.stream_sid.encode()
            + b'","media":{"payload":"'
            + payload.encode()
            + b'"}}'
        )
        self.unmarked_ms += ms
        if self.unmarked_ms >= MARK_EVERY_MS:
            self._mark(item_id, out)

    def _mark(self, item_id: str, out: list[bytes]) -> None:
        self.mark_seq += 1
        item = self.items.get(item_id)
        self.marks.append((self.mark_seq, item_id, item.sent_ms if item else 0))
        self.unmarked_ms = 0
        out.append(
            orjson.dumps(
                {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": str(self.mark_seq)}}
            )
        )

    def _on_mark(self, name: str) -> None:
        try:
            seq = int(name)
        except ValueError:
            return
        while self.marks and self.marks[0][0] <= seq:
            done_seq, item_id, end_ms = self.marks.popleft()
            if done_seq == seq:
                self.last_ack = _Ack(item_id, end_ms, self.now_ts)

    def heard_ms(self) -> tuple[str, int] | None:
        """The item the caller is hearing now and how many ms of it they heard, from the marks."""
        if not self.marks and not self.unmarked_ms:
            return None  # everything sent was played
        if self.marks:
            _seq, item_id, cap = self.marks[0]
        else:
            item_id = self.playing_item or ""
            cap = self.items[item_id].sent_ms if item_id in self.items else 0
        item = self.items.get(item_id)
        if item is None:
            return None
        ack = self.last_ack
        if ack is not None and ack.item_id == item_id:
            heard, floor = ack.end_ms + (self.now_ts - ack.at_ts), ack.end_ms
        else:
            # It started playing when the audio queued before it finished (the last ack), or when its
            # first audio was sent if nothing was queued then.
            began = item.first_sent_ts
            if ack is not None and ack.at_ts > began:
                began = ack.at_ts
            heard, floor = self.now_ts - began, 0
        return item_id, max(floor, min(heard, cap))

    def _barge_in(self) -> None:
        heard = self.heard_ms()
        if heard is None:
            return
        item_id, audio_end_ms = heard
        try:
            self.twilio.send(orjson.dumps({"event": "clear", "streamSid": self.stream_sid}))
        except WebSocketError:
            return
        # `clear` also dropped every item queued at Twilio behind the one being heard: none of it
        # was heard, so the AI's conversation must not keep it either.
        ids = list(self.items)
        cut = {item_id: audio_end_ms, **dict.fromkeys(ids[ids.index(item_id) + 1 :], 0)}
        for cut_id, heard_ms in cut.items():
            self.heard[cut_id] = heard_ms
            self.interrupted[cut_id] = None
            if cut_id in self.agent_turns:
                self.agent_turns[cut_id].update(interrupted=True, heard_ms=heard_ms)
        while len(self.interrupted) > 16:
            self.interrupted.pop(next(iter(self.interrupted)))
        if self.ai is not None:
            with contextlib.suppress(WebSocketError):
                for cut_id, heard_ms in cut.items():
                    self.ai.truncate(cut_id, heard_ms)
        self._forget_playback()

    def _forget_playback(self) -> None:
        self.marks.clear()
        self.unmarked_ms = 0
        self.playing_item = None

    def _tool_call(self, call: ToolCall) -> None:
        output: dict[str, Any]
        if call.name != "save_lead" or self.setup is None:
            output = {"ok": False, "error": f"unknown tool {call.name}"}
        else:
            try:
                arguments = orjson.loads(call.arguments or "{}")
                if not isinstance(arguments, dict):
                    raise ValueError("arguments are not an object")
                self.record.captured.update({k: v for k, v in arguments.items() if isinstance(v, str | int)})
                lead_id = self.store.save_lead(self.setup, arguments)
                output = {"ok": True, "lead_id": lead_id}
            except Exception:
                log.exception("save_lead failed on call %s", self.setup.call_sid)
                output = {"ok": False, "error": "could not save the details; continue the conversation"}
        ai = self.ai
        if ai is not None:
            with contextlib.suppress(WebSocketError):
                ai.send_tool_result(call.call_id, output)

    # ---------------------------------------------------------------- bookkeeping

    def _turn(self, speaker: str, text: str, kind: str = "speech") -> dict[str, Any] | None:
        if not text:
            return None
        at_ms = int((self.clock() - self.started_at) * 1000) if self.started_at else 0
        turn: dict[str, Any] = {"speaker": speaker, "text": text, "at_ms": at_ms, "kind": kind}
        self.record.transcript.append(turn)
        return turn

    def _add_usage(self, usage: dict[str, Any]) -> None:
        totals = self.record.usage
        totals["responses"] = totals.get("responses", 0) + 1
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            value = usage.get(key)
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value

    def _end(self) -> None:
        """Close the AI session, stop the reader, let tool calls finish, hand the call to be saved."""
        self.ending = True
        ai, self.ai = self.ai, None
        if ai is not None:
            ai.close()
        if self.ai_reader is not None:
            self.ai_reader.join(timeout=2)
            self.ai_reader.kill(block=True, timeout=1)
        if self.ai is not None:  # opened by the reader after we took ours
            self.ai.close()
            self.ai = None
        self.tasks.join(timeout=10)
        self.tasks.kill(block=True, timeout=1)
        self.twilio.close()
        if self.setup is None:
            return
        record = {
            "call_sid": self.setup.call_sid,
            "business_id": int(self.setup.tenant),
            "stream_sid": self.stream_sid,
            "end_reason": self.end_reason,
            "ai_outcome": self.ai_outcome.value,
            "transcript": self.record.transcript,
            "ai_usage": self.record.usage,
            "captured": self.record.captured,
            "stream_seconds": (self.clock() - self.started_at) if self.started_at else 0,
        }
        try:
            self.store.finish(record)
        except Exception:
            log.exception("could not hand call %s over to be saved", self.setup.call_sid)
