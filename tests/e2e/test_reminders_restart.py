"""A reminder that comes due while the server is stopped fires once, and only once, after it restarts.

The real run command (`make run`: migrate, ensure-admin, gunicorn's gevent worker with the embedded
Huey consumer) twice on the same database. Once with the same job store (the job scheduled at due_at
is still there, and races the start-up sweep and the first periodic sweep), once with the job store
wiped (only the sweeps can fire it: an ephemeral disk, a lost instance/ folder).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select

from server.db import db_session, utcnow
from server.reminders.models import Notification, Reminder
from tests.e2e.server import make_run

PASSWORD = "restart-owner-password-1"
OWNER = "owner@restart.co.il"
# Time for the first server to stop before the reminder comes due.
DUE_IN = timedelta(seconds=6)


@contextmanager
def _login(base: str, email: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRFToken"] = client.get("/api/auth/csrf").json()["csrfToken"]
        yield client


def _notifications_in_db(reminder_id: int) -> int:
    db_session.remove()
    count = db_session.scalar(select(func.count()).where(Notification.reminder_id == reminder_id)) or 0
    db_session.remove()
    return int(count)


@pytest.mark.parametrize("job_store", ["kept", "wiped"])
def test_a_reminder_due_while_stopped_fires_once_after_restart(
    app: Flask, database_url: str, tmp_path: Path, job_store: str
) -> None:
    jobs_db = tmp_path / "jobs.db"
    with make_run(
        database_url, tmp_path / "first.log", build_client=False, JOBS_SQLITE_PATH=str(jobs_db)
    ) as server:
        with _login(server.base, server.admin_email, server.admin_password) as admin:
            business = admin.post("/api/admin/businesses", json={"name": "מרפאת שיניים הדר"})
            assert business.status_code == 201, business.text
            business_id = business.json()["id"]
            user = admin.post(
                "/api/admin/users",
                json={"email": OWNER, "role": "business", "business_id": business_id, "password": PASSWORD},
            )
            assert user.status_code == 201, user.text
            owner_id = user.json()["id"]
        with _login(server.base, OWNER, PASSWORD) as owner:
            lead = owner.post("/api/leads", json={"full_name": "יעל לוי", "phone": "050-234-5678"})
            assert lead.status_code == 201, lead.text
            lead_id = lead.json()["id"]
            due = utcnow() + DUE_IN
            created = owner.post(
                f"/api/leads/{lead_id}/reminders", json={"due_at": due.isoformat(), "text": "לאשר תור למחר"}
            )
            assert created.status_code == 201, created.text
            reminder_id = created.json()["id"]
            assert created.json()["fired_at"] is None
    stopped_at = utcnow()
    assert stopped_at < due, f"the first server took {stopped_at - due + DUE_IN} to stop: no restart case"
    first_log = (tmp_path / "first.log").read_text()
    assert f"reminder {reminder_id} fired" not in first_log

    time.sleep((due - utcnow()).total_seconds() + 1)
    assert _notifications_in_db(reminder_id) == 0  # came due with nobody running
    if job_store == "wiped":
        for path in tmp_path.glob("jobs.db*"):
            path.unlink()

    with make_run(
        database_url,
        tmp_path / "second.log",
        first_run=False,
        build_client=False,
        JOBS_SQLITE_PATH=str(jobs_db),
    ) as server:
        with _login(server.base, OWNER, PASSWORD) as owner:
            deadline = time.monotonic() + 20
            items: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                items = owner.get("/api/notifications").json()["items"]
                if items:
                    break
                time.sleep(0.2)
            assert [(n["reminder_id"], n["user_id"], n["lead_id"]) for n in items] == [
                (reminder_id, owner_id, lead_id)
            ]
            # The scheduled job (if kept), the start-up sweep and the first periodic sweep have all run
            # by now; give stragglers a moment, then it must still be one.
            time.sleep(2)
            body = owner.get("/api/notifications").json()
            assert len(body["items"]) == 1 and body["unread_count"] == 1
            assert body["items"][0]["body"] == "לאשר תור למחר"
            (reminder,) = owner.get(f"/api/leads/{lead_id}/reminders").json()["items"]
            assert reminder["fired_count"] == 1
            fired_at = datetime.fromisoformat(str(reminder["fired_at"]))
            assert fired_at > stopped_at
        log_path = server.log
    assert _notifications_in_db(reminder_id) == 1
    # The database is the proof of "once"; the log line may be missing when the worker is killed
    # before its stderr is flushed, but it must never say twice.
    second_log = log_path.read_text(errors="replace")
    assert second_log.count(f"reminder {reminder_id} fired") <= 1, second_log
    db_session.remove()
    assert db_session.get(Reminder, reminder_id).fired_count == 1  # type: ignore[union-attr]
    db_session.remove()
