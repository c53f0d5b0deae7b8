"""Speech-to-speech AI sessions for phone calls: the interface the call bridge speaks, and OpenAI Realtime.

The bridge only sees `RealtimeProvider.connect(config) -> RealtimeSession` and the small event classes
below, so another provider (or OpenAI's SIP mode) can be added without touching it. Audio is G.711
μ-law 8 kHz base64 both ways: payloads pass through untouched.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from server.providers.websocket import Keepalive, WebSocketError, WsConnection, connect

log = logging.getLogger(__name__)

# A dead AI socket is noticed within idle + deadline (+ a tick) seconds, and handled like a drop.
KEEPALIVE = Keepalive(idle=2.0, deadline=2.0)
ACTIVE_RESPONSE = "conversation_already_has_active_response"


class RealtimeUnavailable(Exception):
    """The speech AI could not be reached or refused the session."""


# ---------------------------------------------------------------- what the bridge receives


@dataclass(slots=True)
class AudioDelta:
    item_id: str
    payload: str  # base64 μ-law


@dataclass(slots=True)
class AudioDone:
    item_id: str


@dataclass(slots=True)
class AgentTranscript:
    item_id: str
    text: str


@dataclass(slots=True)
class CallerTranscript:
    item_id: str
    text: str


@dataclass(slots=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text as the model wrote it


@dataclass(slots=True)
class ResponseDone:
    status: str
    usage: dict[str, Any]


@dataclass(slots=True)
class ProviderError:
    code: str
    message: str


RealtimeEvent = (
    AudioDelta
    | AudioDone
    | AgentTranscript
    | CallerTranscript
    | SpeechStarted
    | ToolCall
    | ResponseDone
    | ProviderError
)


# ---------------------------------------------------------------- what the bridge sends


@dataclass
class HistoryTurn:
    speaker: str  # "caller" | "agent"
    text: str


@dataclass
class SessionConfig:
    instructions: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    language: str = "he"
    greet: bool = True  # make the AI speak first
    history: Sequence[HistoryTurn] = ()  # replayed after a reconnect


class RealtimeSession(Protocol):
    def append_audio(self, payloads: Sequence[str]) -> None: ...
    def send_user_text(self, text: str, respond: bool = True) -> None: ...
    def truncate(self, item_id: str, audio_end_ms: int) -> None: ...
    def send_tool_result(self, call_id: str, output: dict[str, Any]) -> None: ...
    def events(self) -> Iterator[list[RealtimeEvent]]: ...
    def close(self) -> None: ...


class RealtimeProvider(Protocol):
    def connect(self, config: SessionConfig) -> RealtimeSession: ...


# ---------------------------------------------------------------- OpenAI Realtime over WebSocket

_GA_NAMES = {
    "audio_delta": "response.output_audio.delta",
    "audio_done": "response.output_audio.done",
    "transcript_done": "response.output_audio_transcript.done",
}
_BETA_NAMES = {
    "audio_delta": "response.audio.delta",
    "audio_done": "response.audio.done",
    "transcript_done": "response.audio_transcript.done",
}


class OpenAIRealtime:
    """`wss://api.openai.com/v1/realtime?model=…` with `Authorization: Bearer …` (GA or beta events)."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        model: str,
        voice: str,
        transcription_model: str = "gpt-4o-mini-transcribe",
        protocol: str = "ga",
        connect_timeout: float = 5.0,
        connector: Callable[..., Any] = connect,
        keepalive: Keepalive | None = KEEPALIVE,
    ):
        self.url = url
        self.api_key = api_key
        self.model = model
        self.voice = voice
        self.transcription_model = transcription_model
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self.connector = connector
        self.keepalive = keepalive

    def _endpoint(self) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}model={self.model}" if "model=" not in self.url else self.url

    def connect(self, config: SessionConfig) -> OpenAIRealtimeSession:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.protocol == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        try:
            ws = self.connector(
                self._endpoint(), headers, timeout=self.connect_timeout, keepalive=self.keepalive
            )
        except WebSocketError as exc:
            raise RealtimeUnavailable(str(exc)) from exc
        session = OpenAIRealtimeSession(ws, self.protocol)
        try:
            session.open([orjson.dumps(m) for m in self._opening(config)], respond=self._speaks_first(config))
        except WebSocketError as exc:
            ws.close()
            raise RealtimeUnavailable(str(exc)) from exc
        except BaseException:  # killed mid-open (the call ended): the socket must not outlive it
            ws.close()
            raise
        return session

    @staticmethod
    def _speaks_first(config: SessionConfig) -> bool:
        return bool(config.history) or config.greet

    def _session(self, config: SessionConfig) -> dict[str, Any]:
        vad = {"type": "server_vad", "silence_duration_ms": 500}
        transcription = {"model": self.transcription_model, "language": config.language}
        if self.protocol == "beta":
            return {
                "modalities": ["audio", "text"],
                "instructions": config.instructions,
                "voice": self.voice,
                "input_audio_format": "g711_ulaw",
                "output_audio_format": "g711_ulaw",
                "turn_detection": vad,
                "input_audio_transcription": transcription,
                "tools": config.tools,
                "tool_choice": "auto",
            }
        return {
            "type": "realtime",
            "model": self.model,
            "output_modalities": ["audio"],
            "instructions": config.instructions,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": vad,
                    "transcription": transcription,
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": self.voice},
            },
            "tools": config.tools,
            "tool_choice": "auto",
        }

    def _opening(self, config: SessionConfig) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"type": "session.update", "session": self._session(config)}]
        agent_text = "text" if self.protocol == "beta" else "output_text"
        for turn in config.history:
            role, kind = ("user", "input_text") if turn.speaker == "caller" else ("assistant", agent_text)
            messages.append(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "message", "role": role, "content": [{"type": kind, "text": turn.text}]},
                }
            )
        if config.history:
            messages.append(
                _user_text("(The line dropped for a moment. Continue the conversation naturally.)")
            )
        elif config.greet:
            messages.append(_user_text("Greet the caller now."))
        return messages


def _user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    }


_APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
_MAX_SKIPPED_LOGS = 5


class OpenAIRealtimeSession:
    """One conversation. OpenAI runs one response at a time and refuses a `response.create` while one
    is in progress (`conversation_already_has_active_response`), so a response wanted then (after a
    tool result, a DTMF key, or one the server's VAD started first) waits for that one's
    `response.done`."""

    def __init__(self, ws: WsConnection, protocol: str):
        self.ws = ws
        self.names = _BETA_NAMES if protocol == "beta" else _GA_NAMES
        self.closed_by_us = False
        self.responding = False  # between response.created and response.done
        self.requested: str | None = None  # event_id of our response.create not answered yet
        self.wanted = False  # a response.create waits for the current response to end
        self._creates = 0
        self._recent_creates: deque[str] = deque(maxlen=8)
        self.skipped = 0  # malformed events dropped

    @property
    def closed(self) -> bool:
        return bool(getattr(self.ws, "closed", False))

    # sending -------------------------------------------------------------

    def open(self, opening: list[bytes], respond: bool) -> None:
        self.ws.send_many(self._with_response(opening, respond))

    def append_audio(self, payloads: Sequence[str]) -> None:
        # base64 needs no JSON escaping: build the message without a serializer.
        self.ws.send_many([_APPEND_HEAD + p.encode() + b'"}' for p in payloads])

    def send_user_text(self, text: str, respond: bool = True) -> None:
        self.ws.send_many(self._with_response([orjson.dumps(_user_text(text))], respond))

    def truncate(self, item_id: str, audio_end_ms: int) -> None:
        self.ws.send(
            orjson.dumps(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": max(0, int(audio_end_ms)),
                }
            )
        )

    def send_tool_result(self, call_id: str, output: dict[str, Any]) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": orjson.dumps(output).decode()}
        self.ws.send_many(
            self._with_response([orjson.dumps({"type": "conversation.item.create", "item": item})], True)
        )

    def _with_response(self, messages: list[bytes], respond: bool) -> list[bytes]:
        """`messages`, plus a response.create now if no response is in progress (else it waits)."""
        if respond:
            if self.responding or self.requested:
                self.wanted = True
            else:
                messages.append(self._response_create())
        return messages

    def _response_create(self) -> bytes:
        self._creates += 1
        self.requested = event_id = f"evt_bridge_create_{self._creates}"
        self._recent_creates.append(event_id)
        return orjson.dumps({"type": "response.create", "event_id": event_id})

    def _send_wanted(self) -> None:
        if self.wanted and not self.responding and not self.requested:
            self.wanted = False
            self.ws.send(self._response_create())

    # receiving -----------------------------------------------------------

    def events(self) -> Iterator[list[RealtimeEvent]]:
        """Batches of events until the socket closes (the bridge tells a drop from a close).

        A malformed event is logged and skipped: one bad event never ends the conversation.
        """
        while True:
            batch = self.ws.recv_batch()
            if not batch:
                return
            out: list[RealtimeEvent] = []
            for raw in batch:
                try:
                    self._parse(raw, out)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.skipped += 1
                    if self.skipped <= _MAX_SKIPPED_LOGS:
                        log.warning("malformed realtime event skipped (%r): %.200r", exc, raw)
            if out:
                yield out

    def _parse(self, raw: bytes, out: list[RealtimeEvent]) -> None:
        event = orjson.loads(raw)
        kind = event["type"]
        names = self.names
        if kind == names["audio_delta"]:
            delta = event["delta"]
            if not isinstance(delta, str):
                raise TypeError("delta is not base64 text")
            out.append(AudioDelta(str(event.get("item_id", "")), delta))
        elif kind == "input_audio_buffer.speech_started":
            out.append(SpeechStarted(int(event.get("audio_start_ms") or 0)))
        elif kind == names["audio_done"]:
            out.append(AudioDone(str(event.get("item_id", ""))))
        elif kind == names["transcript_done"]:
            out.append(AgentTranscript(str(event.get("item_id", "")), str(event.get("transcript") or "")))
        elif kind == "conversation.item.input_audio_transcription.completed":
            out.append(CallerTranscript(str(event.get("item_id", "")), str(event.get("transcript") or "")))
        elif kind == "response.function_call_arguments.done":
            out.append(
                ToolCall(
                    str(event.get("call_id", "")), str(event.get("name", "")), str(event.get("arguments", ""))
                )
            )
        elif kind == "response.created":
            self.responding, self.requested = True, None
        elif kind == "response.done":
            response = event.get("response") or {}
            usage = response.get("usage") or {}
            self.responding = False
            out.append(
                ResponseDone(str(response.get("status", "")), usage if isinstance(usage, dict) else {})
            )
            self._send_wanted()
        elif kind == "error":
            error = event.get("error") or {}
            code = str(error.get("code") or error.get("type"))
            refused = error.get("event_id")
            if refused is not None and refused in self._recent_creates:
                # Our response.create lost a race (with the server's VAD, say): ask again once the
                # response in progress is done.
                if refused == self.requested:
                    self.requested = None
                if code == ACTIVE_RESPONSE:
                    self.wanted = True
                    self.responding = True
                    return
            log.warning("realtime error event: %s", error)
            out.append(ProviderError(code, str(error.get("message"))))

    def close(self) -> None:
        self.closed_by_us = True
        self.ws.close()


def openai_from_settings(settings: Any) -> OpenAIRealtime:
    connector: Callable[..., Any] = connect
    if settings.calls_ws_transport == "flask_sock":
        from server.providers.websocket import connect_simple_websocket

        connector = connect_simple_websocket
    return OpenAIRealtime(
        connector=connector,
        url=settings.openai_realtime_url,
        api_key=settings.openai_api_key,
        model=settings.openai_realtime_model,
        voice=settings.openai_realtime_voice,
        transcription_model=settings.openai_realtime_transcription_model,
        protocol=settings.openai_realtime_protocol,
    )
