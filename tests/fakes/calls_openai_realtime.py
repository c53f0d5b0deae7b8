"""A fake OpenAI Realtime server (GA event names, PROTOCOLS.md §3) over a real WebSocket.

Two modes:
- "script" (tests): records everything the bridge sends; answers `response.create` with a spoken
  reply (μ-law audio deltas, transcript, response.done with usage); the test injects server events
  (speech_started, transcriptions, function calls) and can drop a connection or refuse handshakes.
- "echo" (bench): every `input_audio_buffer.append` comes straight back as an audio delta, with the
  fake's receive time written into the payload (bytes 8..15) so the caller can split the round trip.

Run alone for the bench: `python -m tests.fakes.calls_openai_realtime --port P --mode echo`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

API_KEY = "sk-test-realtime"
MS_BYTES = 8  # μ-law 8 kHz: 8 bytes per millisecond


def reply_audio(ms: int, tone: int) -> list[str]:
    """`ms` of μ-law audio as 100 ms base64 chunks, every byte `tone` (so tests can tell replies apart)."""
    chunks = []
    for offset in range(0, ms, 100):
        length = min(100, ms - offset) * MS_BYTES
        chunks.append(base64.b64encode(bytes([tone]) * length).decode())
    return chunks


@dataclass
class FakeAiConnection:
    index: int
    path: str
    headers: dict[str, str]
    ws: ServerConnection
    loop: asyncio.AbstractEventLoop
    session: dict[str, Any] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    appended: list[bytes] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    truncates: list[dict[str, Any]] = field(default_factory=list)
    responses: int = 0
    closed: bool = False
    reply_ms: int = 600

    # what the bridge sent ---------------------------------------------------------------

    def types(self) -> list[str]:
        return [e.get("type", "") for e in self.received]

    @property
    def instructions(self) -> str:
        return str(self.session.get("instructions", ""))

    def tool_outputs(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i.get("type") == "function_call_output"]

    def audio_bytes(self) -> bytes:
        return b"".join(self.appended)

    # what the test injects (thread-safe) --------------------------------------------------

    def send(self, event: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(self.ws.send(json.dumps(event)), self.loop).result(5)

    def drop(self) -> None:
        """Break the TCP connection without a close frame (a network drop)."""

        def abort() -> None:
            transport = self.ws.transport
            if transport is not None:
                transport.abort()

        self.loop.call_soon_threadsafe(abort)


class FakeRealtimeServer:
    def __init__(self, mode: str = "script", host: str = "127.0.0.1", port: int = 0):
        self.mode = mode
        self.host, self.port = host, port
        self.connections: list[FakeAiConnection] = []
        self.refuse_handshakes = 0  # answer the next N handshakes with 503
        self.drop_on_connect = 0  # accept the next N connections, then break them at once
        self.reply_ms = 600
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            compression=None,
            max_size=None,
            process_request=self._process_request,
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def start_in_thread(self) -> FakeRealtimeServer:
        ready = threading.Event()

        def main() -> None:
            async def run() -> None:
                await self.start()
                ready.set()
                assert self._server is not None
                with contextlib.suppress(asyncio.CancelledError):
                    await self._server.serve_forever()

            asyncio.run(run())

        self._thread = threading.Thread(target=main, name="fake-openai-realtime", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake realtime server did not start"
        return self

    def stop(self) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread:
            self._thread.join(5)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/realtime"

    # ------------------------------------------------------------------ test helpers

    def connection_count(self) -> int:
        with self._lock:
            return len(self.connections)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"fake realtime server: timed out waiting for {what}")

    def wait_connection(self, index: int, timeout: float = 10.0) -> FakeAiConnection:
        def found() -> FakeAiConnection | None:
            with self._lock:
                return self.connections[index] if len(self.connections) > index else None

        return self.wait_for(found, timeout, f"connection #{index}")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ protocol

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad key\n")
        if self.refuse_handshakes > 0:
            self.refuse_handshakes -= 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "overloaded\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert self._loop is not None
        request = ws.request
        headers = dict(request.headers.raw_items()) if request else {}
        conn = FakeAiConnection(
            index=0,
            path=request.path if request else "",
            headers=headers,
            ws=ws,
            loop=self._loop,
            reply_ms=self.reply_ms,
        )
        with self._lock:
            conn.index = len(self.connections)
            self.connections.append(conn)
        if self.drop_on_connect > 0:
            self.drop_on_connect -= 1
            await asyncio.sleep(0.05)
            if ws.transport is not None:
                ws.transport.abort()
            conn.closed = True
            return
        await ws.send(json.dumps({"type": "session.created", "session": {"id": f"sess_{conn.index}"}}))
        try:
            if self.mode == "echo":
                await self._echo(conn)
            else:
                await self._script(conn)
        except Exception:  # noqa: BLE001 - a dropped socket ends the handler
            pass
        finally:
            conn.closed = True

    async def _echo(self, conn: FakeAiConnection) -> None:
        ws = conn.ws
        head = (
            '{"type":"response.output_audio.delta","response_id":"resp_echo","item_id":"item_echo",'
            '"output_index":0,"content_index":0,"delta":"'
        )
        async for message in ws:
            if '"input_audio_buffer.append"' in message[:64]:
                audio = base64.b64decode(json.loads(message)["audio"])
                stamped = audio[:8] + struct.pack(">q", time.perf_counter_ns()) + audio[16:]
                await ws.send(head + base64.b64encode(stamped).decode() + '"}')
            else:
                event = json.loads(message)
                if event.get("type") == "session.update":
                    await ws.send(
                        json.dumps({"type": "session.updated", "session": event.get("session", {})})
                    )

    async def _script(self, conn: FakeAiConnection) -> None:
        ws = conn.ws
        async for message in ws:
            event = json.loads(message)
            kind = event.get("type")
            if kind == "input_audio_buffer.append":
                conn.appended.append(base64.b64decode(event["audio"]))
                continue
            conn.received.append(event)
            if kind == "session.update":
                conn.session = event.get("session", {})
                await ws.send(json.dumps({"type": "session.updated", "session": conn.session}))
            elif kind == "conversation.item.create":
                conn.items.append(event.get("item", {}))
            elif kind == "conversation.item.truncate":
                conn.truncates.append(event)
            elif kind == "response.create":
                conn.responses += 1
                await self._reply(conn)

    async def _reply(self, conn: FakeAiConnection) -> None:
        ws = conn.ws
        n = conn.responses
        response_id, item_id = f"resp_{conn.index}_{n}", f"item_{conn.index}_{n}"
        text = "תודה, רשמתי את הפרטים." if conn.tool_outputs() else "שלום, הגעתם לעסק. איך אפשר לעזור?"
        await ws.send(json.dumps({"type": "response.created", "response": {"id": response_id}}))
        for chunk in reply_audio(conn.reply_ms, tone=0x40 + n):
            await ws.send(
                json.dumps(
                    {
                        "type": "response.output_audio.delta",
                        "response_id": response_id,
                        "item_id": item_id,
                        "output_index": 0,
                        "content_index": 0,
                        "delta": chunk,
                    }
                )
            )
        await ws.send(json.dumps({"type": "response.output_audio.done", "item_id": item_id}))
        await ws.send(
            json.dumps(
                {"type": "response.output_audio_transcript.done", "item_id": item_id, "transcript": text}
            )
        )
        usage = {"total_tokens": 30, "input_tokens": 10, "output_tokens": 20}
        await ws.send(
            json.dumps(
                {
                    "type": "response.done",
                    "response": {"id": response_id, "status": "completed", "usage": usage},
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="echo")
    args = parser.parse_args()

    async def run() -> None:
        server = FakeRealtimeServer(mode=args.mode, port=args.port)
        await server.start()
        print(f"PORT={server.port}", flush=True)
        assert server._server is not None
        await server._server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
