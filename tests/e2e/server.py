"""Start the real server with the README's run command (`make run`) on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    base: str
    admin_email: str
    admin_password: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# The outside services a server may call, pointed at a closed local port unless a test starts a fake:
# a test never reaches the internet, even by a send it did not mean to make.
OFFLINE = {
    "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    "META_GRAPH_BASE_URL": "http://127.0.0.1:9",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    "OPENAI_REALTIME_URL": "ws://127.0.0.1:9/v1/realtime",
}


@contextmanager
def make_run(
    database_url: str,
    log: Path,
    timeout: float = 180,
    *,
    first_run: bool = True,
    build_client: bool = True,
    **env: str,
) -> Iterator[RunningServer]:
    """`make run` on a free port. first_run=False: the database already has its admin, whose
    credentials are printed only the first time. build_client=False: skip the web-app build
    (`make -o client`) for tests that only need the API and the job consumer."""
    port = free_port()
    environment = {**os.environ, **OFFLINE, "DATABASE_URL": database_url, "PORT": str(port), **env}
    environment.pop("TEST_DATABASE_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                *([] if build_client else ["-o", "client"]),
                "run",
                f"PORT={port}",
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"make run exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer within {timeout}s:\n{log.read_text()}")
            time.sleep(0.2)
        text = log.read_text()
        email = re.search(r"ADMIN_EMAIL=(\S+)", text)
        password = re.search(r"ADMIN_PASSWORD=(\S+)", text)
        if first_run:
            assert email and password, f"make run did not print the first admin's credentials:\n{text}"
        yield RunningServer(base, email.group(1) if email else "", password.group(1) if password else "", log)
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
