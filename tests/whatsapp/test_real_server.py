"""Through the real server (gunicorn -k gevent, embedded Huey consumer), on the test database (SQLite, or
PostgreSQL with TEST_DATABASE_URL): the same Twilio delivery racing in parallel is processed once, a
burst of messages is answered once, together, and the webhook never waits on the AI (the API tests
run Huey in immediate mode, so only a real server can show that)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx
from flask import Flask

from bench.common import BIN, ROOT, gunicorn_worker, running_server
from server.whatsapp import replies
from tests.fakes import openai_chat, whatsapp_twilio
from tests.fakes.whatsapp_http import wait_for
from tests.whatsapp.conftest import Fakes

EMAIL, PASSWORD = "wa-admin@example.com", "wa-admin-password-123"
SENDER = "+97235550111"


def _setup_business(base: str, database_url: str) -> httpx.Client:
    subprocess.run(
        [str(BIN / "flask"), "--app", "server.app", "create-admin", "--email", EMAIL, "--password", PASSWORD],
        cwd=ROOT,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    client = httpx.Client(base_url=base, timeout=10)
    assert client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 200
    client.headers["X-CSRFToken"] = client.get("/api/auth/csrf").json()["csrfToken"]
    business = client.post(
        "/api/admin/businesses", json={"name": "מספרה", "whatsapp_numbers": [SENDER]}
    ).json()
    assert client.post(f"/api/admin/businesses/{business['id']}/impersonate", json={}).status_code == 200
    prompt = {"calls_prompt": "c", "whatsapp_prompt": "את הנציגה של המספרה."}
    assert client.put("/api/business/current/prompt", json=prompt).status_code == 200
    return client


def _server_env(fakes: Fakes, tmp_path: Path, **pacing: str) -> dict[str, str]:
    """The real server's environment against the fakes (reset here), with the reply pacing given."""
    for server in (fakes.twilio, fakes.meta, fakes.ai):
        server.reset()
    return {
        "TWILIO_ACCOUNT_SID": whatsapp_twilio.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": whatsapp_twilio.AUTH_TOKEN,
        "TWILIO_API_BASE_URL": fakes.twilio.base,
        "OPENAI_API_KEY": openai_chat.API_KEY,
        "OPENAI_BASE_URL": fakes.ai.base_url,
        "JOBS_SQLITE_PATH": str(tmp_path / "jobs.db"),
        "PUBLIC_BASE_URL": "",
        **pacing,
    }


def test_duplicates_bursts_and_a_slow_ai_on_the_real_server(
    app: Flask, database_url: str, fakes: Fakes, tmp_path: Path
) -> None:
    env = _server_env(fakes, tmp_path, WHATSAPP_REPLY_DEBOUNCE_SECONDS="0.8")
    url_path = "/webhook/whatsapp/twilio"
    with (
        running_server(database_url, **env) as (base, _url),
        closing(_setup_business(base, database_url)) as api,
    ):
        url = base + url_path

        # 1. Twilio delivers the same message 20 times at once (retries racing a slow answer).
        form = whatsapp_twilio.inbound_form("+972501234567", SENDER, "שלום, יש תור היום?")
        signature = whatsapp_twilio.sign(url, form)
        barrier = threading.Barrier(20)
        statuses: list[int] = []

        def deliver() -> None:
            with httpx.Client(timeout=10) as client:
                barrier.wait()
                response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
                statuses.append(response.status_code)

        threads = [threading.Thread(target=deliver) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 20
        wait_for(lambda: fakes.twilio.sends, timeout=15)
        time.sleep(2.5)  # room for a duplicate reply to show up, if there were one
        assert len(fakes.ai.calls) == 1 and len(fakes.twilio.sends) == 1
        [conversation] = api.get("/api/conversations").json()["items"]
        messages = api.get(f"/api/conversations/{conversation['id']}").json()["messages"]
        assert [(m["direction"], m["text"]) for m in messages] == [
            ("in", "שלום, יש תור היום?"),
            ("out", "echo: שלום, יש תור היום?"),
        ]
        assert messages[1]["provider_message_id"] == fakes.twilio.sends[0].sid

        with httpx.Client(timeout=10) as client:

            def post(frm: str, text: str) -> httpx.Response:
                burst = whatsapp_twilio.inbound_form(frm, SENDER, text)
                headers = {"X-Twilio-Signature": whatsapp_twilio.sign(url, burst)}
                return client.post(url, data=burst, headers=headers)

            # 2. Three messages within a second: one AI call that sees all three, one reply.
            for text in ("היי", "אני דנה", "רציתי לקבוע תספורת"):
                response = post("+972502222222", text)
                assert response.status_code == 200 and response.elapsed.total_seconds() < 0.5
                time.sleep(0.2)
            wait_for(lambda: len(fakes.twilio.sends) == 2, timeout=15)
            time.sleep(2.5)
            to = Counter(send.form["To"] for send in fakes.twilio.sends)
            assert to == {"whatsapp:+972501234567": 1, "whatsapp:+972502222222": 1}
            assert fakes.twilio.sends[1].body == "echo: היי | אני דנה | רציתי לקבוע תספורת"
            assert len(fakes.ai.calls) == 2
            assert fakes.ai.calls[1]["messages"][0]["content"].startswith("את הנציגה של המספרה.")

            # 3. An AI that takes 2 s: every webhook is still answered at once, while it thinks.
            fakes.ai.delay = 2.0
            began = time.monotonic()
            first = post("+972503333333", "שאלה לאט")
            assert first.status_code == 200 and first.elapsed.total_seconds() < 0.5
            wait_for(lambda: len(fakes.ai.calls) == 3, timeout=10)  # the AI is thinking now
            during = post("+972504444444", "ועוד אחת")
            assert during.status_code == 200 and during.elapsed.total_seconds() < 0.5
            assert len(fakes.twilio.sends) == 2  # nobody was answered yet: the answers come later
            wait_for(lambda: len(fakes.twilio.sends) == 4, timeout=15)
            assert time.monotonic() - began > 2.0
            assert {s.body for s in fakes.twilio.sends[2:]} == {"echo: שאלה לאט", "echo: ועוד אחת"}

            # 4. Lines typed a second or so apart, with a 500 ms AI: the second line arrives while the
            # first answer is being written, so that answer is dropped and the whole burst is answered
            # once, after the customer has been quiet for WHATSAPP_REPLY_BURST_QUIET_SECONDS.
            wait_for(lambda: len(fakes.ai.calls) == 4, timeout=10)
            fakes.ai.delay = 0.5
            calls = len(fakes.ai.calls)
            lines = ("שלום", "אני רוצה לקבוע תור", "למחר בבוקר אם אפשר")
            for line, pause in zip(lines, (1.0, 1.5, 0.0), strict=True):
                assert post("+972505555555", line).status_code == 200
                time.sleep(pause)
            wait_for(
                lambda: any(s.form["To"] == "whatsapp:+972505555555" for s in fakes.twilio.sends), timeout=15
            )
            time.sleep(3.0)  # room for a second reply, if the burst were split
            to_her = [s.body for s in fakes.twilio.sends if s.form["To"] == "whatsapp:+972505555555"]
            assert to_her == ["echo: " + " | ".join(lines)]
            assert len(fakes.ai.calls) - calls == 2  # the dropped answer and the one sent


def test_a_reply_whose_worker_died_before_answering_is_sent_by_its_durable_backup(
    app: Flask, database_url: str, fakes: Fakes, tmp_path: Path
) -> None:
    """The reply waits in a greenlet of the worker; the worker is killed before it answers. Its
    backup (written to the job store within BACKUP_BATCH_SECONDS) answers from the next worker."""
    env = _server_env(
        fakes, tmp_path, WHATSAPP_REPLY_DEBOUNCE_SECONDS="3", WHATSAPP_REPLY_MAX_WAIT_SECONDS="3"
    )
    with (
        running_server(database_url, **env) as (base, _url),
        closing(_setup_business(base, database_url)) as api,
    ):
        url = base + "/webhook/whatsapp/twilio"
        form = whatsapp_twilio.inbound_form("+972506666666", SENDER, "מישהו שם?")
        armed = time.monotonic()
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": whatsapp_twilio.sign(url, form)})
        assert response.status_code == 200
        time.sleep(1.0 + replies.BACKUP_BATCH_SECONDS)  # the backup is written; the greenlet still waits
        worker = gunicorn_worker(base)
        os.kill(worker, signal.SIGKILL)
        assert time.monotonic() - armed < 3  # it died before its greenlet answered
        wait_for(lambda: _another_worker(base, worker), timeout=30)  # gunicorn starts another
        wait_for(lambda: fakes.twilio.sends, timeout=40)
        time.sleep(2)  # room for a second answer, if there were one
        assert [s.body for s in fakes.twilio.sends] == ["echo: מישהו שם?"] and len(fakes.ai.calls) == 1
        [conversation] = api.get("/api/conversations").json()["items"]
        messages = api.get(f"/api/conversations/{conversation['id']}").json()["messages"]
        assert [(m["direction"], m["text"]) for m in messages] == [
            ("in", "מישהו שם?"),
            ("out", "echo: מישהו שם?"),
        ]


def _another_worker(base: str, dead: int) -> bool:
    try:
        return gunicorn_worker(base) != dead
    except ValueError:  # none yet (or the dead one not yet reaped)
        return False
