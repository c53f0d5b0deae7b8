"""The media stream's WebSocket, server side, on the raw socket gunicorn's gevent worker hands over.

`fast` (default): our own 101 answer, then websockets' sans-I/O Protocol driven on the gevent socket
(server/providers/websocket.py). `flask_sock`: flask-sock's path (simple_websocket.Server, one extra
thread and queues per socket, wsproto framing) — kept as the measured baseline (bench/calls.py).
"""

from __future__ import annotations

import base64
import binascii
import socket
from typing import Any

from flask import Response
from websockets.utils import accept_key

from server.providers.websocket import (
    SimpleWebSocketConnection,
    WebSocketError,
    WsConnection,
    server_connection,
)


class NotAWebSocket(Exception):
    pass


def _raw_socket(environ: dict[str, Any]) -> socket.socket:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is None:
        raise NotAWebSocket("this server does not hand over its sockets (run it under gunicorn)")
    return sock  # type: ignore[no-any-return]


def _check_upgrade(environ: dict[str, Any]) -> str:
    if environ.get("REQUEST_METHOD") != "GET":
        raise NotAWebSocket("a WebSocket starts with GET")
    if "websocket" not in environ.get("HTTP_UPGRADE", "").lower():
        raise NotAWebSocket("missing 'Upgrade: websocket'")
    if "upgrade" not in environ.get("HTTP_CONNECTION", "").lower():
        raise NotAWebSocket("missing 'Connection: Upgrade'")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
        raise NotAWebSocket("only WebSocket version 13 is spoken here")
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise NotAWebSocket("bad Sec-WebSocket-Key")
    except binascii.Error as exc:
        raise NotAWebSocket("bad Sec-WebSocket-Key") from exc
    return key


def accept_fast(environ: dict[str, Any]) -> WsConnection:
    key = _check_upgrade(environ)
    sock = _raw_socket(environ)
    handshake = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    )
    try:
        sock.sendall(handshake.encode())
    except OSError as exc:
        raise WebSocketError(str(exc)) from exc
    return server_connection(sock)


def accept_flask_sock(environ: dict[str, Any]) -> SimpleWebSocketConnection:
    """What a flask-sock route does: simple_websocket.Server on the request's environ."""
    from simple_websocket import Server  # the baseline's dependency only

    _check_upgrade(environ)
    return SimpleWebSocketConnection(Server(environ))


class SocketTakenOver(Response):
    """What the view returns once the WebSocket is over: the server must not write an HTTP answer.

    gunicorn's async workers close the connection on StopIteration (flask-sock does the same)."""

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if "gunicorn.socket" in environ:
            raise StopIteration()
        return []
