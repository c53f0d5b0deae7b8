"""The real server (gunicorn -k gevent -w 1, the README's run command) with the fake speech AI."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bench.common import running_server
from server.calls.models import Call
from server.db import db_session
from tests.conftest import TEST_SECRET
from tests.fakes.calls_openai_realtime import API_KEY, FakeRealtimeServer
from tests.fakes.calls_twilio import (
    FakeTwilioStream,
    call_sid,
    local_ws_url,
    parse_twiml,
    signed_post,
    voice_form,
)

AUTH_TOKEN = "twilio-auth-token-for-tests-0123456789"
PUBLIC_BASE = "https://calls.example.test"
NUMBER_A, NUMBER_B = "+97235550101", "+97235550202"  # the world fixture's voice numbers
CALLER = "+972501234567"
START_TIMEOUT_S = 2.0  # the test server's CALLS_START_TIMEOUT_SECONDS


@pytest.fixture(scope="session")
def fake_ai() -> Iterator[FakeRealtimeServer]:
    server = FakeRealtimeServer(mode="script").start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_fake_ai(request: pytest.FixtureRequest) -> None:
    if "fake_ai" in request.fixturenames:
        ai: FakeRealtimeServer = request.getfixturevalue("fake_ai")
        ai.refuse_handshakes = ai.drop_on_connect = 0
        ai.reply_ms = 600
        ai.pace_ms = ai.handshake_delay = 0


def server_env(ai_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "APP_ENV": "development",
        "SECRET_KEY": TEST_SECRET,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_REALTIME_URL": ai_url,
        "JOBS_SQLITE_PATH": str(tmp / "jobs.db"),
        "CALLS_DEBUG_STATS": "true",
        "CALLS_START_TIMEOUT_SECONDS": str(START_TIMEOUT_S),
        "LOG_LEVEL": "info",
        **extra,
    }


@pytest.fixture(scope="session")
def call_server(
    database_url: str, fake_ai: FakeRealtimeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("calls-server")
    with running_server(database_url, **server_env(fake_ai.url, tmp)) as (base, _url):
        yield base


@dataclass
class PhoneCall:
    """One call as Twilio would make it: the voice webhook, then the media stream."""

    base: str
    to_number: str
    from_number: str = CALLER
    sid: str = ""
    twiml: str = ""
    stream: FakeTwilioStream | None = None

    def ring(self) -> httpx.Response:
        self.sid = self.sid or call_sid()
        response = signed_post(
            self.base,
            PUBLIC_BASE,
            "/webhook/twilio/voice",
            AUTH_TOKEN,
            voice_form(self.sid, self.from_number, self.to_number),
        )
        self.twiml = response.text
        return response

    async def answer(
        self, send_start: bool = True, parameters: dict[str, str] | None = None
    ) -> FakeTwilioStream:
        instructions = parse_twiml(self.twiml)
        assert instructions is not None, self.twiml
        assert instructions.url == PUBLIC_BASE.replace("https://", "wss://") + "/ws/twilio/media"
        self.stream = FakeTwilioStream(
            local_ws_url(instructions.url, self.base),
            parameters if parameters is not None else instructions.parameters,
            self.sid,
            self.from_number,
        )
        await self.stream.open(send_start=send_start)
        return self.stream

    def status(self, status: str, **extra: str) -> httpx.Response:
        form = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "CallStatus": status, **extra}
        return signed_post(self.base, PUBLIC_BASE, "/webhook/twilio/voice/status", AUTH_TOKEN, form)


def saved_call(sid: str, timeout: float = 15.0) -> Call:
    """The call row once the bridge's save job ran."""
    deadline = time.monotonic() + timeout
    while True:
        db_session.remove()
        call = db_session.scalar(select(Call).where(Call.call_sid == sid))
        if call is not None and call.end_reason is not None:
            return call
        if time.monotonic() > deadline:
            raise AssertionError(f"call {sid} was not saved in {timeout}s (row: {call and call.__dict__})")
        time.sleep(0.05)


def stats(base: str) -> dict[str, Any]:
    return httpx.get(f"{base}/internal/calls/stats", timeout=20).json()  # type: ignore[no-any-return]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
