"""The call bridge against in-process doubles of its three sides (the MediaSocket, RealtimeProvider and
CallStore protocols), for what no wire format can provoke: a bug of ours in the middle of a call."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import gevent
import pytest
from gevent.queue import Empty, Queue

from server.auth.context import TenantId
from server.calls.bridge import CallBridge
from server.calls.service import StreamSetup
from server.providers.realtime import AudioDelta, RealtimeEvent, SessionConfig


class Twilio:
    """Twilio's side of the media stream: the test pushes messages, the bridge's sends are kept."""

    def __init__(self) -> None:
        self.inbox: Queue[list[bytes] | None] = Queue()
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def push(self, *events: dict[str, Any]) -> None:
        self.inbox.put([json.dumps(e).encode() for e in events])

    def recv_batch(self, timeout: float | None = None) -> list[bytes]:
        if self.closed is not None:
            return []
        try:
            batch = self.inbox.get(timeout=timeout)
        except Empty:
            raise TimeoutError from None
        return batch or []

    def send(self, message: bytes | str) -> None:
        self.sent.append(message.encode() if isinstance(message, str) else message)

    def send_many(self, messages: list[bytes]) -> None:
        self.sent.extend(messages)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)
            self.inbox.put(None)


class Session:
    def __init__(self, fail_on_text: bool = False) -> None:
        self.events_in: Queue[list[RealtimeEvent] | Exception | None] = Queue()
        self.fail_on_text = fail_on_text
        self.closed = False

    def append_audio(self, payloads: Sequence[str]) -> None:
        pass

    def send_user_text(self, text: str, respond: bool = True) -> None:
        if self.fail_on_text:
            raise RuntimeError("a bug in the provider")

    def truncate(self, item_id: str, audio_end_ms: int) -> None:
        pass

    def send_tool_result(self, call_id: str, output: dict[str, Any]) -> None:
        pass

    def events(self) -> Iterator[list[RealtimeEvent]]:
        while True:
            item = self.events_in.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self.closed = True
        self.events_in.put(None)


class Provider:
    def __init__(self, session: Session) -> None:
        self.session = session

    def connect(self, config: SessionConfig) -> Session:
        return self.session


class Store:
    def __init__(self) -> None:
        self.finished: list[dict[str, Any]] = []

    def begin(self, business_param: str, token: str, call_sid: str, stream_sid: str) -> StreamSetup:
        return StreamSetup(TenantId(1), 1, call_sid, "+972501234567", "+97235550101", "prompt")

    def save_lead(self, setup: StreamSetup, arguments: dict[str, Any]) -> int | None:
        return None

    def finish(self, record: dict[str, Any]) -> None:
        self.finished.append(record)


START = {"event": "start", "streamSid": "MZ1", "start": {"callSid": "CA1", "customParameters": {}}}


def run_call(twilio: Twilio, session: Session, store: Store) -> None:
    bridge = CallBridge(twilio, Provider(session), store)
    with gevent.Timeout(5, AssertionError("the call never ended")):
        bridge.run()


@pytest.mark.parametrize("side", ["ai", "twilio"])
def test_a_bug_in_the_middle_of_a_call_ends_it_with_the_fallback_and_saves_it(side: str) -> None:
    twilio, session, store = Twilio(), Session(fail_on_text=side == "twilio"), Store()
    twilio.push({"event": "connected"}, START)
    session.events_in.put([AudioDelta("item_1", "//8=")])
    if side == "ai":
        session.events_in.put(RuntimeError("a bug while relaying the AI"))
    else:
        gevent.spawn_later(0.1, twilio.push, {"event": "dtmf", "dtmf": {"digit": "5"}})
    run_call(twilio, session, store)  # never raises
    assert twilio.closed == (1000, "")  # Twilio goes on with the fallback after <Connect>
    assert session.closed
    [record] = store.finished
    assert (record["ai_outcome"], record["end_reason"]) == ("failed", "bridge_error")
    assert json.loads(twilio.sent[0])["media"]["payload"] == "//8="  # the call had been bridged
