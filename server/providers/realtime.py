"""Speech-to-speech AI sessions for phone calls: the interface the call bridge speaks, and OpenAI Realtime.

The bridge only sees `RealtimeProvider.connect(config) -> RealtimeSession` and the small event classes
below, so another provider (or OpenAI's SIP mode) can be added without touching it. Audio is G.711
μ-law 8 kHz base64 both ways: payloads pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from server.providers.websocket import WebSocketError, WsConnection, connect

log = logging.getLogger(__name__)


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
    ):
        self.url = url
        self.api_key = api_key
        self.model = model
        self.voice = voice
        self.transcription_model = transcription_model
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self.connector = connector

    def _endpoint(self) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}model={self.model}" if "model=" not in self.url else self.url

    def connect(self, config: SessionConfig) -> OpenAIRealtimeSession:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.protocol == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        try:
            ws = self.connector(self._endpoint(), headers, timeout=self.connect_timeout)
        except WebSocketError as exc:
            raise RealtimeUnavailable(str(exc)) from exc
        session = OpenAIRealtimeSession(ws, self.protocol)
        try:
            ws.send_many([orjson.dumps(m) for m in self._opening(config)])
        except WebSocketError as exc:
            ws.close()
            raise RealtimeUnavailable(str(exc)) from exc
        return session

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
            messages.append({"type": "response.create"})
        elif config.greet:
            messages.append(_user_text("Greet the caller now."))
            messages.append({"type": "response.create"})
        return messages


def _user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    }


_APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
_RESPONSE_CREATE = b'{"type":"response.create"}'


class OpenAIRealtimeSession:
    def __init__(self, ws: WsConnection, protocol: str):
        self.ws = ws
        self.names = _BETA_NAMES if protocol == "beta" else _GA_NAMES
        self.closed_by_us = False

    # sending -------------------------------------------------------------

    def append_audio(self, payloads: Sequence[str]) -> None:
        # base64 needs no JSON escaping: build the message without a serializer.
        self.ws.send_many([_APPEND_HEAD + p.encode() + b'"}' for p in payloads])

    def send_user_text(self, text: str, respond: bool = True) -> None:
        messages = [orjson.dumps(_user_text(text))]
        if respond:
            messages.append(_RESPONSE_CREATE)
        self.ws.send_many(messages)

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
            [orjson.dumps({"type": "conversation.item.create", "item": item}), _RESPONSE_CREATE]
        )

    # receiving -----------------------------------------------------------

    def events(self) -> Iterator[list[RealtimeEvent]]:
        """Batches of events until the socket closes (the bridge tells a drop from a close)."""
        names = self.names
        audio_delta, audio_done, transcript_done = (
            names["audio_delta"],
            names["audio_done"],
            names["transcript_done"],
        )
        while True:
            batch = self.ws.recv_batch()
            if not batch:
                return
            out: list[RealtimeEvent] = []
            for raw in batch:
                try:
                    event = orjson.loads(raw)
                    kind = event["type"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
                if kind == audio_delta:
                    out.append(AudioDelta(event.get("item_id", ""), event["delta"]))
                elif kind == "input_audio_buffer.speech_started":
                    out.append(SpeechStarted(int(event.get("audio_start_ms") or 0)))
                elif kind == audio_done:
                    out.append(AudioDone(event.get("item_id", "")))
                elif kind == transcript_done:
                    out.append(AgentTranscript(event.get("item_id", ""), event.get("transcript") or ""))
                elif kind == "conversation.item.input_audio_transcription.completed":
                    out.append(CallerTranscript(event.get("item_id", ""), event.get("transcript") or ""))
                elif kind == "response.function_call_arguments.done":
                    out.append(
                        ToolCall(event.get("call_id", ""), event.get("name", ""), event.get("arguments", ""))
                    )
                elif kind == "response.done":
                    response = event.get("response") or {}
                    out.append(ResponseDone(response.get("status", ""), response.get("usage") or {}))
                elif kind == "error":
                    error = event.get("error") or {}
                    log.warning("realtime error event: %s", error)
                    out.append(
                        ProviderError(str(error.get("code") or error.get("type")), str(error.get("message")))
                    )
            if out:
                yield out

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
