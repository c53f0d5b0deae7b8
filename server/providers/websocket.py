"""WebSockets on gevent sockets, framed by the `websockets` package's sans-I/O protocol objects.

No thread per socket, no compression, no message queue: a greenlet reads the socket and gets every
complete message that arrived in one read, and sends go straight to the socket (one `sendall` for a
batch). Used for the OpenAI Realtime client and, server side, for Twilio's media stream
(server/calls/websocket.py does the server handshake on the raw socket gunicorn hands over).

A silent network cut (no FIN, no RST) never ends a read: a client connection can carry a keepalive
that pings a peer gone quiet and closes the socket when nothing answers, which ends the read.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Protocol, Side, State
from websockets.uri import parse_uri

MAX_MESSAGE = 4 * 1024 * 1024
_READ_SIZE = 256 * 1024


log = logging.getLogger(__name__)


class WebSocketError(OSError):
    """The connection could not be opened, or the peer broke the protocol."""


@dataclass(frozen=True)
class Keepalive:
    """Ping a peer that has sent nothing for `idle` s; give up `deadline` s after an unanswered ping."""

    idle: float = 2.0
    deadline: float = 2.0
    tick: float = 0.5


class WsConnection:
    """One open WebSocket. `recv_batch()` from one greenlet; `send*()` from any greenlet."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: Protocol,
        pending: Iterable[Frame] = (),
        keepalive: Keepalive | None = None,
    ):
        self.sock = sock
        self.protocol = protocol
        self._send_lock = Semaphore()
        self._messages: deque[bytes] = deque()
        self._fragments: list[bytes] | None = None
        self.closed = False
        self.peer_silent = False  # closed by the keepalive: the peer stopped answering
        self._heard_at = time.monotonic()
        self._absorb(list(pending))
        self._watchdog = gevent.spawn(self._keep_alive, keepalive) if keepalive else None

    # ------------------------------------------------------------ receiving

    def recv_batch(self, timeout: float | None = None) -> list[bytes]:
        """Every complete message available now (waiting for at least one); [] once closed.

        Raises TimeoutError when `timeout` passes with nothing received.
        """
        while not self._messages:
            if self.closed:
                return []
            self.sock.settimeout(timeout)
            try:
                data = self.sock.recv(_READ_SIZE)
            except TimeoutError:
                raise
            except OSError:  # also the keepalive closing the socket under this read
                data = b""
            self._heard_at = time.monotonic()
            if not data:
                self.protocol.receive_eof()
                self._flush_quietly()
                self._shutdown()
                break
            self.protocol.receive_data(data)
            self._absorb(self.protocol.events_received())
            self._flush_quietly()  # pongs, the answer to a close
            if self.protocol.state is State.CLOSED or self.protocol.close_rcvd is not None:
                self._shutdown()
        batch = list(self._messages)
        self._messages.clear()
        return batch

    def recv(self, timeout: float | None = None) -> bytes | None:
        """One message, or None once closed (a convenience for handshakes and tests)."""
        while True:
            if self._messages:
                return self._messages.popleft()
            batch = self.recv_batch(timeout)
            if not batch:
                return None
            self._messages.extend(batch)

    def _absorb(self, events: list[Any]) -> None:
        for frame in events:
            if not isinstance(frame, Frame):
                continue
            opcode = frame.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if frame.fin:
                    self._messages.append(bytes(frame.data))
                else:
                    self._fragments = [bytes(frame.data)]
            elif opcode is Opcode.CONT and self._fragments is not None:
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    self._messages.append(b"".join(self._fragments))
                    self._fragments = None

    # ------------------------------------------------------------ keepalive

    def _keep_alive(self, keepalive: Keepalive) -> None:
        """Any data from the peer (a pong included) proves it alive; silence after a ping does not."""
        ping_sent_at: float | None = None
        while not self.closed:
            gevent.sleep(keepalive.tick)
            now = time.monotonic()
            if ping_sent_at is not None and self._heard_at >= ping_sent_at:
                ping_sent_at = None  # answered
            if ping_sent_at is None:
                if now - self._heard_at >= keepalive.idle:
                    ping_sent_at = now
                    if not self._ping(keepalive.deadline):
                        break
            elif now - ping_sent_at >= keepalive.deadline:
                break
        if not self.closed:
            log.warning("WebSocket peer silent for %.1f s, closing", time.monotonic() - self._heard_at)
            self.peer_silent = True
            self._shutdown()  # wakes the reader (and any send stuck on a full buffer) with an error

    def _ping(self, within: float) -> bool:
        if self._send_lock.locked():
            return True  # a send is under way; the deadline still runs
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_ping(b"ka")
        with gevent.Timeout(within, False):
            self._flush_quietly()
            return not self.closed
        return False  # the ping could not even be written

    # ------------------------------------------------------------ sending

    def send(self, message: bytes | str) -> None:
        if self.closed or self.protocol.state is not State.OPEN:
            raise WebSocketError("send on a closed WebSocket")
        self.protocol.send_text(message.encode() if isinstance(message, str) else message)
        self._flush()

    def send_many(self, messages: Iterable[bytes]) -> None:
        """Several text messages in one write."""
        if self.closed or self.protocol.state is not State.OPEN:
            raise WebSocketError("send on a closed WebSocket")
        for message in messages:
            self.protocol.send_text(message)
        self._flush()

    def _flush_quietly(self) -> None:
        # The socket is gone: the reader reports the end of the stream.
        with contextlib.suppress(WebSocketError):
            self._flush()

    def _flush(self) -> None:
        chunks = self.protocol.data_to_send()
        if not chunks:
            return
        eof = chunks[-1] == b""
        data = b"".join(chunks)
        with self._send_lock:
            try:
                if data:
                    _send_all(self.sock, data)
                if eof:
                    self.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self._shutdown()
                raise WebSocketError(f"the peer went away: {exc}") from exc

    # ------------------------------------------------------------ closing

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (if still open) and release the socket; safe to call twice."""
        if self.closed:
            return
        try:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                with gevent.Timeout(1.0, False):  # a send stuck on a peer that stopped reading
                    self._flush()
        except (OSError, WebSocketError):
            pass
        self._shutdown()

    def _shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not gevent.getcurrent():
            watchdog.kill(block=False)


def _send_all(sock: socket.socket, data: bytes) -> None:
    """One send() on the raw non-blocking socket, and gevent's sendall only for what did not fit.

    gevent's sendall asks the kernel for SO_SNDBUF on every call (a second syscall per frame) and
    runs several Python layers; a 20 ms audio frame almost always fits the socket buffer at once.
    Never on TLS: the raw socket under an SSLSocket would carry the bytes unencrypted."""
    raw = getattr(sock, "_sock", None)
    if raw is not None and not isinstance(sock, ssl.SSLSocket):
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    sock.sendall(data)


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def server_connection(sock: socket.socket) -> WsConnection:
    """Wrap a socket whose handshake (101) was already sent: frames only from here on."""
    _nodelay(sock)
    return WsConnection(sock, Protocol(Side.SERVER, state=State.OPEN, max_size=MAX_MESSAGE))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One client TLS context for the process: building one loads the CA store (milliseconds of CPU)."""
    return ssl.create_default_context()


def connect(
    url: str, headers: Mapping[str, str], timeout: float = 5.0, keepalive: Keepalive | None = None
) -> WsConnection:
    """Open a client WebSocket (ws:// or wss://), without compression; raises WebSocketError."""
    uri = parse_uri(url)
    try:
        raw = socket.create_connection((uri.host, uri.port), timeout=timeout)
    except OSError as exc:
        raise WebSocketError(f"cannot reach {uri.host}:{uri.port}: {exc}") from exc
    sock: socket.socket = raw
    try:
        _nodelay(raw)
        if uri.secure:
            sock = _tls_context().wrap_socket(raw, server_hostname=uri.host)
        protocol = ClientProtocol(uri, max_size=MAX_MESSAGE)
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        sock.sendall(b"".join(protocol.data_to_send()))
        sock.settimeout(timeout)
        events: list[Any] = []
        while not any(isinstance(e, Response) for e in events):
            data = sock.recv(_READ_SIZE)
            if not data:
                protocol.receive_eof()
                break
            protocol.receive_data(data)
            events.extend(protocol.events_received())
        if protocol.handshake_exc is not None or protocol.state is not State.OPEN:
            raise WebSocketError(f"handshake with {uri.host} refused: {protocol.handshake_exc}")
        sock.settimeout(None)
        return WsConnection(
            sock, protocol, pending=[e for e in events if isinstance(e, Frame)], keepalive=keepalive
        )
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        if isinstance(exc, WebSocketError):
            raise
        raise WebSocketError(f"WebSocket to {uri.host}:{uri.port} failed: {exc}") from exc
    except BaseException:
        sock.close()
        raise


class SimpleWebSocketConnection:
    """simple-websocket (flask-sock's engine: a thread and queues per socket, wsproto framing) behind
    the same interface: the measured baseline (CALLS_WS_TRANSPORT=flask_sock)."""

    def __init__(self, ws: Any):
        self.ws = ws
        self.closed = False

    def recv_batch(self, timeout: float | None = None) -> list[bytes]:
        from simple_websocket import ConnectionClosed

        try:
            first = self.ws.receive(timeout=timeout)
        except ConnectionClosed:
            return []
        if first is None:
            if timeout is not None and self.ws.connected:
                raise TimeoutError
            return []
        batch = [first.encode() if isinstance(first, str) else first]
        while True:
            try:
                more = self.ws.receive(timeout=0)
            except ConnectionClosed:
                break
            if more is None:
                break
            batch.append(more.encode() if isinstance(more, str) else more)
        return batch

    def recv(self, timeout: float | None = None) -> bytes | None:
        batch = self.recv_batch(timeout)
        return batch[0] if batch else None

    def send(self, message: bytes | str) -> None:
        from simple_websocket import ConnectionClosed

        try:
            self.ws.send(message.decode() if isinstance(message, bytes) else message)
        except (ConnectionClosed, OSError) as exc:
            raise WebSocketError("closed") from exc

    def send_many(self, messages: Iterable[bytes]) -> None:
        for message in messages:
            self.send(message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # closing twice or on a dead socket is fine
            self.ws.close(reason=code, message=reason)


def connect_simple_websocket(
    url: str, headers: Mapping[str, str], timeout: float = 5.0, keepalive: Keepalive | None = None
) -> Any:
    """The baseline client: simple_websocket.Client (no keepalive: it is the measured baseline only)."""
    from simple_websocket import Client

    try:
        return SimpleWebSocketConnection(Client(url, headers=dict(headers)))
    except Exception as exc:
        raise WebSocketError(f"WebSocket to {url} failed: {exc}") from exc
