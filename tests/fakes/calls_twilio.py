"""Fake Twilio for the phone agent: signed voice webhooks, and a media-stream client over a real
WebSocket (PROTOCOLS.md §1-2).

The media client behaves like Twilio's edge: `connected` then `start` with the TwiML's parameters,
one 20 ms μ-law frame every 20 ms with the stream's millisecond clock in `timestamp`, `dtmf`, `stop`;
it plays what it receives in real time, returns each `mark` when the audio before it has played,
and on `clear` drops what was queued and returns the pending marks at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

FRAME_MS = 20
FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def signed_post(
    base: str,
    public_base: str,
    path: str,
    auth_token: str,
    form: dict[str, str],
    signature: str | None = None,
) -> httpx.Response:
    """POST a form to the server as Twilio would, signed for the public URL Twilio sees."""
    if signature is None:
        signature = RequestValidator(auth_token).compute_signature(public_base + path, form)
    return httpx.post(base + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)


def voice_form(call: str, from_number: str, to_number: str, account: str = "AC" + "0" * 32) -> dict[str, str]:
    return {
        "CallSid": call,
        "AccountSid": account,
        "From": from_number,
        "To": to_number,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "Caller": from_number,
        "Called": to_number,
    }


@dataclass
class StreamInstructions:
    url: str
    parameters: dict[str, str]
    after_connect: list[str]  # the verbs that follow <Connect> (the fallback)


def parse_twiml(xml: str) -> StreamInstructions | None:
    root = ET.fromstring(xml)
    stream = root.find("./Connect/Stream")
    if stream is None:
        return None
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    verbs = [child.tag for child in root]
    after = verbs[verbs.index("Connect") + 1 :]
    return StreamInstructions(stream.get("url", ""), params, after)


def local_ws_url(public_url: str, base: str) -> str:
    """The stream URL Twilio would dial (wss://public/…), pointed at the local server."""
    parts, local = urlsplit(public_url), urlsplit(base)
    return f"ws://{local.netloc}{parts.path}"


@dataclass
class Received:
    media: list[tuple[float, bytes]] = field(default_factory=list)  # (arrival, audio)
    marks: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)


class FakeTwilioStream:
    def __init__(self, url: str, parameters: dict[str, str], call: str, from_number: str = "+972501234567"):
        self.url = url
        self.parameters = parameters
        self.call_sid = call
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.from_number = from_number
        self.ws: ClientConnection | None = None
        self.received = Received()
        self.seq = 0
        self.t0 = 0.0
        self.play_until = 0.0  # when the queued playback ends (monotonic)
        self.pending_marks: list[tuple[float, str]] = []
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.audio_source: Any = None  # callable(frame_index) -> bytes, or None for silence
        self.on_media: Any = None  # callable(audio, arrival) instead of keeping every frame (bench)

    def now_ms(self) -> int:
        return int((time.monotonic() - self.t0) * 1000)

    async def _send(self, event: dict[str, Any]) -> None:
        self.seq += 1
        event = {"sequenceNumber": str(self.seq), **event}
        assert self.ws is not None
        await self.ws.send(json.dumps(event))

    async def open(self, send_start: bool = True) -> None:
        self.ws = await connect(self.url, compression=None, max_size=None, ping_interval=None)
        self.t0 = time.monotonic()
        await self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        if send_start:
            await self._send(self.start_event())
        self._tasks.append(asyncio.create_task(self._reader()))

    def start_event(self) -> dict[str, Any]:
        return {
            "event": "start",
            "streamSid": self.stream_sid,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }

    def media_event(self, index: int, audio: bytes) -> dict[str, Any]:
        return {
            "event": "media",
            "streamSid": self.stream_sid,
            "media": {
                "track": "inbound",
                "chunk": str(index + 1),
                "timestamp": str(index * FRAME_MS),
                "payload": base64.b64encode(audio).decode(),
            },
        }

    async def send_raw(self, messages: list[str]) -> None:
        """Text messages as they are (malformed ones too), all in one TCP write: one read server side."""
        assert self.ws is not None
        for message in messages:
            self.ws.protocol.send_text(message.encode())
        assert self.ws.transport is not None
        self.ws.transport.write(b"".join(self.ws.protocol.data_to_send()))

    async def send_burst(self, events: list[dict[str, Any]]) -> None:
        messages = []
        for event in events:
            self.seq += 1
            messages.append(json.dumps({"sequenceNumber": str(self.seq), **event}))
        await self.send_raw(messages)

    def start_audio(self) -> None:
        self._tasks.append(asyncio.create_task(self._caller()))

    async def _caller(self) -> None:
        """One inbound frame every 20 ms, on an absolute schedule."""
        index = 0
        with contextlib.suppress(Exception):
            while not self.closed.is_set():
                audio = self.audio_source(index) if self.audio_source else SILENCE
                await self._send(self.media_event(index, audio))
                index += 1
                delay = self.t0 + index * FRAME_MS / 1000 - time.monotonic()
                await asyncio.sleep(max(0.0, delay))

    async def _reader(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                now = time.monotonic()
                event = json.loads(message)
                kind = event.get("event")
                if kind == "media":
                    audio = base64.b64decode(event["media"]["payload"])
                    if self.on_media is not None:
                        self.on_media(audio, now)
                    else:
                        self.received.media.append((now, audio))
                    self.play_until = max(self.play_until, now) + len(audio) / 8000
                elif kind == "mark":
                    name = event["mark"]["name"]
                    self.pending_marks.append((max(self.play_until, now), name))
                    self._tasks.append(asyncio.create_task(self._return_marks()))
                elif kind == "clear":
                    self.received.clears.append(now)
                    self.play_until = now
                    marks, self.pending_marks = self.pending_marks, []
                    for _at, name in marks:
                        await self._send(
                            {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
                        )
                        self.received.marks.append(name)
                else:
                    self.received.other.append(event)
        except Exception:  # noqa: BLE001 - the server closed the socket
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def _return_marks(self) -> None:
        while self.pending_marks:
            at, name = self.pending_marks[0]
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self.pending_marks.pop(0)
            with contextlib.suppress(Exception):
                await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
            self.received.marks.append(name)

    async def dtmf(self, digit: str) -> None:
        await self._send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def stop(self) -> None:
        """The caller hangs up: `stop`, then Twilio closes the socket."""
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "event": "stop",
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid},
                }
            )
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        for task in self._tasks:
            task.cancel()
        self.closed.set()

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code
