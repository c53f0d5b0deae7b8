"""A fake OpenAI Realtime server (GA event names, PROTOCOLS.md §3) over a real WebSocket.

Two modes:
- "script" (tests): records everything the bridge sends; answers `response.create` with a spoken
  reply (μ-law audio deltas, transcript, response.done with usage); the test injects server events
  (speech_started, transcriptions), makes the model call a tool, and can drop a connection, freeze it
  (a silent network cut), delay or refuse handshakes.
- "echo" (bench): every `input_audio_buffer.append` comes straight back as an audio delta, with the
  fake's receive time written into the payload (bytes 8..15) so the caller can split the round trip;
  optionally (`--tool-call-after S`) each session's model calls save_lead once, S seconds in.

As the real server: one response at a time, bracketed by `response.created` … `response.done`
(a tool call's response too); a `response.create` while one is in progress is refused with the
`conversation_already_has_active_response` error; a truncate past what the item holds is an error.

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

import uvloop
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

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
    appended_at: list[float] = field(default_factory=list)  # time.monotonic() of each append
    items: list[dict[str, Any]] = field(default_factory=list)
    truncates: list[dict[str, Any]] = field(default_factory=list)
    responses: int = 0  # responses started (refused response.create not counted)
    refused: list[dict[str, Any]] = field(default_factory=list)  # response.create refused: overlap
    errors: list[dict[str, Any]] = field(default_factory=list)  # every error event sent
    active: str | None = None  # the response in progress
    item_ms: dict[str, int] = field(default_factory=dict)  # audio ms sent per assistant item
    closed: bool = False
    frozen: bool = False
    reply_ms: int = 600
    pace_ms: float = 0  # pause between 100 ms audio chunks (0: all at once)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

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

    def send_many(self, events: list[dict[str, Any]]) -> None:
        """Several events back to back (they reach the bridge in one read, as a burst would)."""

        async def burst() -> None:
            for event in events:
                await self.ws.send(json.dumps(event))

        asyncio.run_coroutine_threadsafe(burst(), self.loop).result(5)

    def drop(self) -> None:
        """Break the TCP connection without a close frame (a network drop)."""

        def abort() -> None:
            transport = self.ws.transport
            if transport is not None:
                transport.abort()

        self.loop.call_soon_threadsafe(abort)

    def freeze(self) -> None:
        """A silent network cut: nothing read (so no pong either), nothing sent, nothing closed."""

        def pause() -> None:
            self.frozen = True
            transport = self.ws.transport
            if transport is not None:
                transport.pause_reading()

        self.loop.call_soon_threadsafe(pause)

    def call_tool(self, call_id: str, name: str, arguments: str, hold_ms: int = 0) -> str:
        """The model calls a tool: a response of its own, still in progress `hold_ms` after the
        arguments are done (the model also speaking, say). Returns the response id."""
        future = asyncio.run_coroutine_threadsafe(
            _tool_response(self, call_id, name, arguments, hold_ms), self.loop
        )
        return future.result(5)


class FakeRealtimeServer:
    def __init__(self, mode: str = "script", host: str = "127.0.0.1", port: int = 0):
        self.mode = mode
        self.host, self.port = host, port
        self.connections: list[FakeAiConnection] = []
        self.refuse_handshakes = 0  # answer the next N handshakes with 503
        self.drop_on_connect = 0  # accept the next N connections, then break them at once
        self.handshake_delay = 0.0  # seconds before answering a handshake
        self.reply_ms = 600
        self.pace_ms = 0.0
        self.tool_call_after = 0.0  # echo mode: each session calls save_lead once, this long in
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

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.handshake_delay:
            await asyncio.sleep(self.handshake_delay)
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
            pace_ms=self.pace_ms,
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
        try:
            await _send(conn, {"type": "session.created", "session": {"id": f"sess_{conn.index}"}})
            if self.mode == "echo":
                await self._echo(conn)
            else:
                await self._script(conn)
        except Exception:  # noqa: BLE001 - a dropped socket ends the handler
            pass
        finally:
            conn.closed = True
            for task in conn.tasks:
                task.cancel()

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
                continue
            event = json.loads(message)
            kind = event.get("type")
            if kind == "session.update":
                await ws.send(json.dumps({"type": "session.updated", "session": event.get("session", {})}))
                if self.tool_call_after:
                    _spawn(conn, self._echo_tool_call(conn))
            elif kind == "response.create" and not await _refuse_overlap(conn, event):
                response_id = await _begin_response(conn)
                await _end_response(conn, response_id)

    async def _echo_tool_call(self, conn: FakeAiConnection) -> None:
        await asyncio.sleep(self.tool_call_after)
        while conn.active:
            await asyncio.sleep(0.01)
        arguments = {"name": f"מתקשר {conn.index}", "summary": "בדיקת עומס", "reason": "bench"}
        await _tool_response(conn, f"call_bench_{conn.index}", "save_lead", json.dumps(arguments), 0)

    async def _script(self, conn: FakeAiConnection) -> None:
        ws = conn.ws
        async for message in ws:
            event = json.loads(message)
            kind = event.get("type")
            if kind == "input_audio_buffer.append":
                conn.appended.append(base64.b64decode(event["audio"]))
                conn.appended_at.append(time.monotonic())
                continue
            conn.received.append(event)
            if kind == "session.update":
                conn.session = event.get("session", {})
                await _send(conn, {"type": "session.updated", "session": conn.session})
            elif kind == "conversation.item.create":
                conn.items.append(event.get("item", {}))
            elif kind == "conversation.item.truncate":
                conn.truncates.append(event)
                await _truncate(conn, event)
            elif kind == "response.create" and not await _refuse_overlap(conn, event):
                response_id = await _begin_response(conn)
                _spawn(conn, _reply(conn, response_id))


def _spawn(conn: FakeAiConnection, coroutine: Any) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    conn.tasks.add(task)
    task.add_done_callback(conn.tasks.discard)


async def _send(conn: FakeAiConnection, event: dict[str, Any]) -> None:
    """Send unless the client already closed (a send would wait for the closing handshake): what it
    sent before its close is still read."""
    while conn.frozen:
        await asyncio.sleep(0.05)
    if conn.ws.state is not State.OPEN:
        return
    with contextlib.suppress(ConnectionClosed):
        await conn.ws.send(json.dumps(event))


async def _error(conn: FakeAiConnection, code: str, message: str, client_event: dict[str, Any]) -> None:
    error = {
        "type": "invalid_request_error",
        "code": code,
        "message": message,
        "param": None,
        "event_id": client_event.get("event_id"),
    }
    conn.errors.append(error)
    await _send(conn, {"type": "error", "event_id": f"event_err_{len(conn.errors)}", "error": error})


async def _refuse_overlap(conn: FakeAiConnection, event: dict[str, Any]) -> bool:
    if conn.active is None:
        return False
    conn.refused.append(event)
    await _error(
        conn,
        "conversation_already_has_active_response",
        f"Conversation already has an active response in progress: {conn.active}. "
        "Wait until the response is finished before creating a new one.",
        event,
    )
    return True


async def _begin_response(conn: FakeAiConnection) -> str:
    conn.responses += 1
    response_id = conn.active = f"resp_{conn.index}_{conn.responses}"
    await _send(
        conn,
        {
            "type": "response.created",
            "event_id": f"event_rc_{response_id}",
            "response": {
                "object": "realtime.response",
                "id": response_id,
                "status": "in_progress",
                "output": [],
            },
        },
    )
    return response_id


async def _end_response(conn: FakeAiConnection, response_id: str, output: list[Any] | None = None) -> None:
    if conn.active == response_id:
        conn.active = None
    usage = {"total_tokens": 30, "input_tokens": 10, "output_tokens": 20}
    await _send(
        conn,
        {
            "type": "response.done",
            "event_id": f"event_rd_{response_id}",
            "response": {
                "object": "realtime.response",
                "id": response_id,
                "status": "completed",
                "output": output or [],
                "usage": usage,
            },
        },
    )


async def _reply(conn: FakeAiConnection, response_id: str) -> None:
    n = conn.responses
    item_id = f"item_{conn.index}_{n}"
    text = "תודה, רשמתי את הפרטים." if conn.tool_outputs() else "שלום, הגעתם לעסק. איך אפשר לעזור?"
    conn.item_ms[item_id] = 0
    for chunk in reply_audio(conn.reply_ms, tone=0x40 + n):
        await _send(
            conn,
            {
                "type": "response.output_audio.delta",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": chunk,
            },
        )
        conn.item_ms[item_id] += len(base64.b64decode(chunk)) // MS_BYTES
        if conn.pace_ms:
            await asyncio.sleep(conn.pace_ms / 1000)
    await _send(conn, {"type": "response.output_audio.done", "response_id": response_id, "item_id": item_id})
    await _send(
        conn,
        {
            "type": "response.output_audio_transcript.done",
            "response_id": response_id,
            "item_id": item_id,
            "transcript": text,
        },
    )
    await _end_response(conn, response_id, [{"id": item_id, "type": "message", "role": "assistant"}])


async def _tool_response(
    conn: FakeAiConnection, call_id: str, name: str, arguments: str, hold_ms: int
) -> str:
    while conn.active:  # the model starts a response only once the previous one is over
        await asyncio.sleep(0.01)
    response_id = await _begin_response(conn)
    item = {"id": f"item_fc_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
    await _send(conn, {"type": "response.output_item.added", "response_id": response_id, "item": item})
    await _send(
        conn,
        {
            "type": "response.function_call_arguments.done",
            "response_id": response_id,
            "item_id": item["id"],
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        },
    )

    async def finish() -> None:
        await asyncio.sleep(hold_ms / 1000)
        await _end_response(conn, response_id, [{**item, "arguments": arguments}])

    _spawn(conn, finish())
    return response_id


async def _truncate(conn: FakeAiConnection, event: dict[str, Any]) -> None:
    item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
    if item_id not in conn.item_ms:
        await _error(conn, "item_not_found", f"Item {item_id} does not exist.", event)
    elif not isinstance(end_ms, int) or not 0 <= end_ms <= conn.item_ms[item_id]:
        await _error(
            conn,
            "invalid_value",
            f"audio_end_ms {end_ms} is past the item's {conn.item_ms[item_id]} ms.",
            event,
        )
    else:
        await _send(
            conn,
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end_ms,
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="echo")
    parser.add_argument("--tool-call-after", type=float, default=0.0)
    args = parser.parse_args()

    async def run() -> None:
        server = FakeRealtimeServer(mode=args.mode, port=args.port)
        server.tool_call_after = args.tool_call_after
        await server.start()
        print(f"PORT={server.port}", flush=True)
        assert server._server is not None
        await server._server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run())  # as the bench's callers: the fake's CPU competes with the worker's


if __name__ == "__main__":
    main()
