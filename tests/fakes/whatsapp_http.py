"""A tiny threaded HTTP server for the WhatsApp agent's fakes (Twilio REST, Meta Graph, OpenAI chat).

Real sockets on 127.0.0.1: the code under test talks to it with its real clients (the twilio and
openai libraries, httpx), only the base URL changes. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from werkzeug.datastructures import Headers


@dataclass
class Recorded:
    method: str
    path: str
    headers: Headers  # case-insensitive, as HTTP headers are
    body: bytes
    at: float = field(default_factory=time.monotonic)
    peer: tuple[str, int] = ("", 0)  # the client's address and port: which connection it came on

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


def json_reply(status: int, payload: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's 5 reset connections opened together (24 replies sending at
    # once: "Connection reset by peer"), which the real APIs do not.
    request_queue_size = 128


class FakeServer:
    """Subclasses implement handle(request) -> (status, headers, body)."""

    def __init__(self, port: int = 0):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(
                    self.command,
                    self.path,
                    Headers(list(self.headers.items())),
                    self.rfile.read(length),
                    peer=self.client_address[:2],
                )
                with fake.lock:
                    fake.requests.append(request)
                if fake.before_answer is not None:
                    fake.before_answer(request)
                status, headers, body = fake.handle(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, *_args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        # Called with each request before it is answered (e.g. to hold requests until several overlap).
        self.before_answer: Callable[[Recorded], Any] | None = None
        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
        self.before_answer = None

    def handle(self, request: Recorded) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
