"""Reminders: how fast due reminders fire, and the reminder/notification listings through the real server.

    .venv/bin/python bench/reminders.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_reminders]

1. Firing: 10,000 reminders due at once across 50 businesses (2 users each, no assignee, so 20,000
   notifications), fired by one sweep, then again by 4 sweeps in parallel; prints the time and checks
   that every (reminder, user) got exactly one notification.
2. Listings: 20,000 reminders over ±30 days and 10,000 notifications for one user of one business; p50/p95
   of GET /api/reminders?due=today|overdue|upcoming and GET /api/notifications through gunicorn, logged in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import running_server, summary
from server.admin import service as admin_service
from server.admin.schemas import BusinessCreateIn, UserCreateIn
from server.auth import passwords
from server.db import db_session, init_db, utcnow
from server.leads.models import Lead
from server.migrate import upgrade_to_head
from server.reminders import firing
from server.reminders.models import Notification, Reminder

PASSWORD = "bench-reminders-password"


def _fresh(url: str) -> None:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_to_head(url)
    init_db(url)


def _business(name: str, users: int) -> tuple[int, list[int], int]:
    business = admin_service.create_business(None, BusinessCreateIn(name=name))  # type: ignore[arg-type]
    user_ids = [
        admin_service.create_user(
            None,  # type: ignore[arg-type]
            UserCreateIn(
                email=f"u{i}@{name}.example.com", role="business", business_id=business.id, password=PASSWORD
            ),
        ).user.id
        for i in range(users)
    ]
    now = utcnow()
    lead = Lead(
        business_id=business.id, full_name=f"ליד {name}", phone=None, email=f"lead@{name}.example.com"
    )
    lead.created_at = lead.updated_at = now
    db_session.add(lead)
    db_session.commit()
    return business.id, user_ids, lead.id


def _seed_reminders(rows: list[tuple[int, int, datetime]], past_fired: bool = False) -> None:
    """past_fired: the steady state of a running server, where reminders already due have fired."""
    now = utcnow()
    db_session.execute(
        insert(Reminder),
        [
            {
                "business_id": business_id,
                "lead_id": lead_id,
                "due_at": due_at,
                "text": "bench",
                "created_at": now,
                "updated_at": now,
                "fired_count": 0,
                "snoozed_count": 0,
                "fired_at": due_at if past_fired and due_at <= now else None,
            }
            for business_id, lead_id, due_at in rows
        ],
    )
    db_session.commit()


def _check_exactly_once(expected_pairs: int) -> str:
    db_session.remove()
    pairs = db_session.scalar(select(func.count()).select_from(Notification)) or 0
    distinct = db_session.scalar(
        select(func.count()).select_from(
            select(Notification.reminder_id, Notification.user_id).distinct().subquery()
        )
    )
    unfired = db_session.scalar(select(func.count()).where(Reminder.fired_at.is_(None)))
    ok = pairs == distinct == expected_pairs and unfired == 0
    return f"notifications={pairs} distinct={distinct} unfired={unfired} {'OK' if ok else 'WRONG'}"


def bench_firing(url: str, label: str) -> None:
    _fresh(url)
    businesses = [_business(f"fire{i}", 2) for i in range(50)]
    now = utcnow()
    rows = [(b, lead, now - timedelta(seconds=i)) for i in range(200) for b, _users, lead in businesses]

    _seed_reminders(rows)
    started = time.perf_counter()
    fired = firing.fire_due()
    elapsed = time.perf_counter() - started
    print(
        f"[{label}] one sweep: {fired} reminders fired in {elapsed:.2f} s "
        f"({fired / elapsed:,.0f}/s); {_check_exactly_once(2 * len(rows))}"
    )

    db_session.execute(Notification.__table__.delete())
    db_session.execute(Reminder.__table__.delete())
    db_session.commit()
    _seed_reminders(rows)
    counts: list[int] = []

    def sweep() -> None:
        try:
            counts.append(firing.fire_due())
        finally:
            db_session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(
        f"[{label}] 4 parallel sweeps: {sum(counts)} fired ({'+'.join(map(str, counts))}) "
        f"in {elapsed:.2f} s; {_check_exactly_once(2 * len(rows))}"
    )
    db_session.remove()


def bench_listings(url: str, label: str) -> None:
    _fresh(url)
    business_id, (user_id, *_), lead_id = _business("listing", 1)
    now = utcnow()
    _seed_reminders(
        [(business_id, lead_id, now + timedelta(minutes=(i % 86_400) - 43_200)) for i in range(20_000)],
        past_fired=True,
    )
    reminder_ids = list(db_session.scalars(select(Reminder.id).limit(10_000)))
    db_session.execute(
        insert(Notification),
        [
            {
                "business_id": business_id,
                "user_id": user_id,
                "kind": "reminder_due",
                "title": "תזכורת",
                "body": "bench",
                "lead_id": lead_id,
                "reminder_id": rid,
                "created_at": now - timedelta(seconds=i),
                "read_at": None if i % 3 else now,
                "times_raised": 1,
            }
            for i, rid in enumerate(reminder_ids)
        ],
    )
    db_session.commit()
    if url.startswith("postgresql"):
        db_session.execute(text("ANALYZE"))  # fresh statistics after the bulk load, as autovacuum would
        db_session.commit()
    db_session.remove()
    with (
        tempfile.TemporaryDirectory() as jobs_dir,
        running_server(url, JOBS_SQLITE_PATH=f"{jobs_dir}/jobs.db") as (base, _url),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        response = client.post(
            "/api/auth/login", json={"email": "u0@listing.example.com", "password": PASSWORD}
        )
        response.raise_for_status()
        for name, path in (
            ("reminders due=today", "/api/reminders?due=today&limit=100"),
            ("reminders due=overdue", "/api/reminders?due=overdue&limit=100"),
            ("reminders due=upcoming", "/api/reminders?due=upcoming&limit=100"),
            ("notifications", "/api/notifications?limit=50"),
            ("notifications unread", "/api/notifications?unread=true&limit=50"),
        ):
            for _ in range(20):
                client.get(path).raise_for_status()
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            print(f"[{label}] GET {name:24s} {summary(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres", default="", help="a PostgreSQL URL to bench as well (its schema is dropped)"
    )
    args = parser.parse_args()
    # Production cost is for logins, not for seeding 100 bench users.
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    targets = [(f"sqlite:///{tempfile.mkdtemp(prefix='bench-rem-')}/bench.db", "sqlite")]
    if args.postgres:
        targets.append((args.postgres, "postgresql"))
    for url, label in targets:
        bench_firing(url, label)
        bench_listings(url, label)


if __name__ == "__main__":
    main()
