"""WebSockets on gevent sockets, framed by the `websockets` package's sans-I/O protocol objects.

No thread per socket, no compression, no message queue: a greenlet reads the socket and gets every
complete message that arrived in one read, and sends go straight to the socket (one `sendall` for a
batch). Used for the OpenAI Realtime client and, server side, for Twilio's media stream
(server/calls/websocket.py does the server handshake on the raw socket gunicorn hands over).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Protocol, Side, State
from websockets.uri import parse_uri

MAX_MESSAGE = 4 * 1024 * 1024
_READ_SIZE = 256 * 1024


class WebSocketError(OSError):
    """The connection could not be opened, or the peer broke the protocol."""


class WsConnection:
    """One open WebSocket. `recv_batch()` from one greenlet; `send*()` from any greenlet."""

    def __init__(self, sock: socket.socket, protocol: Protocol, pending: Iterable[Frame] = ()):
        self.sock = sock
        self.protocol = protocol
        self._send_lock = Semaphore()
        self._messages: deque[bytes] = deque()
        self._fragments: list[bytes] | None = None
        self.closed = False
        self._absorb(list(pending))

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
            except OSError:
                data = b""
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
                    self.sock.sendall(data)
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


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def server_connection(sock: socket.socket) -> WsConnection:
    """Wrap a socket whose handshake (101) was already sent: frames only from here on."""
    _nodelay(sock)
    return WsConnection(sock, Protocol(Side.SERVER, state=State.OPEN, max_size=MAX_MESSAGE))


def connect(url: str, headers: Mapping[str, str], timeout: float = 5.0) -> WsConnection:
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
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=uri.host)
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
        return WsConnection(sock, protocol, pending=[e for e in events if isinstance(e, Frame)])
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


def connect_simple_websocket(url: str, headers: Mapping[str, str], timeout: float = 5.0) -> Any:
    """The baseline client: simple_websocket.Client."""
    from simple_websocket import Client

    try:
        return SimpleWebSocketConnection(Client(url, headers=dict(headers)))
    except Exception as exc:
        raise WebSocketError(f"WebSocket to {url} failed: {exc}") from exc
