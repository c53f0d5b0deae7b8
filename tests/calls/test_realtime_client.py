"""The speech AI's WebSocket client over TLS: one TLS context for the process, not one per call."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve

from server.providers import websocket


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def greet(ws: ServerConnection) -> None:
        await ws.send('{"type":"session.created"}')
        async for message in ws:  # an echo, to prove what the client sent arrived intact
            await ws.send(message)

    async def main() -> None:
        async with serve(greet, "127.0.0.1", 0, ssl=server_context) as server:
            state["port"] = server.sockets[0].getsockname()[1]
            state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await state["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield state["port"], cert
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(5)


def test_every_connect_reuses_one_tls_context(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real(*args, **kwargs)
        context.load_verify_locations(cert)  # trust the test's own certificate authority
        made.append(context)
        return context

    monkeypatch.setattr(websocket.ssl, "create_default_context", counting)
    cached = getattr(websocket, "_tls_context", None)
    if cached is not None:
        cached.cache_clear()
    try:
        for _ in range(3):
            connection = websocket.connect(f"wss://localhost:{port}/v1/realtime", {}, timeout=5)
            assert connection.recv(timeout=5) == b'{"type":"session.created"}'
            connection.close()
    finally:
        if cached is not None:
            cached.cache_clear()  # the next user builds a context with the real trust store
    assert len(made) == 1, f"{len(made)} TLS contexts for 3 connections"


GEVENT_CLIENT = """
from gevent import monkey
monkey.patch_all()
import ssl, sys
from server.providers import websocket
context = ssl.create_default_context()
context.load_verify_locations(sys.argv[2])
websocket._tls_context = lambda: context
connection = websocket.connect(f"wss://localhost:{sys.argv[1]}/v1/realtime", {}, timeout=5)
assert connection.recv(timeout=5) == b'{"type":"session.created"}'
frames = [('{"type":"input_audio_buffer.append","audio":"%s"}' % ("A" * n)).encode() for n in (1, 300, 70000)]
connection.send(frames[0])
connection.send_many(frames[1:])
for frame in frames:
    assert connection.recv(timeout=5) == frame, "the echo differs from what was sent"
connection.close()
print("ok")
"""


def test_sends_over_tls_under_gevent_arrive_intact(tls_server: tuple[int, Path]) -> None:
    """The send fast path writes to the raw socket: never under TLS, where that would skip encryption."""
    port, cert = tls_server
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_CLIENT, str(port), str(cert)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
