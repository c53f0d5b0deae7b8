"""Firing: the job at due_at, the sweeps, exactly once per user, under concurrency too."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server import jobs as jobs_module
from server.auth.models import User
from server.db import db_session, utcnow
from server.jobs import huey
from server.leads.models import Lead
from server.reminders import firing, jobs
from server.reminders.models import Notification, Reminder
from tests.conftest import World, make_user
from tests.reminders.helpers import (
    insert_due_reminder,
    make_lead,
    make_reminder,
    notifications_of,
    reminder_row,
)


def test_a_due_reminder_notifies_its_assignee_once(world: World) -> None:
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    lead = make_lead(world.business_a, assignee=colleague)
    reminder = insert_due_reminder(world.business_a, lead, assignee_id=world.user_a_id, text="להחזיר טלפון")

    jobs.fire_reminder(reminder)  # enqueued; in immediate mode it runs inline
    (notification,) = notifications_of(reminder)
    assert notification.user_id == world.user_a_id  # the reminder's assignee, not the lead's
    assert notification.business_id == world.business_a
    assert notification.kind == "reminder_due"
    assert notification.title == "תזכורת: דנה כהן"
    assert notification.body == "להחזיר טלפון"
    assert notification.lead_id == lead and notification.read_at is None
    row = reminder_row(reminder)
    assert row.fired_at is not None and row.fired_count == 1


def test_without_its_own_assignee_it_notifies_whoever_has_the_lead_when_it_fires(world: World) -> None:
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminder = make_reminder(world.business_a, lead, utcnow() + timedelta(hours=1))
    # The lead changes hands before the reminder is due.
    db_session.execute(update(Lead).where(Lead.id == lead).values(assignee_id=colleague))
    db_session.execute(update(Reminder).where(Reminder.id == reminder).values(due_at=utcnow()))
    db_session.commit()
    assert firing.fire_due() == 1
    assert [n.user_id for n in notifications_of(reminder)] == [colleague]


def test_running_the_job_and_the_sweeps_again_adds_nothing(world: World) -> None:
    lead = make_lead(world.business_a)
    reminder = insert_due_reminder(world.business_a, lead, assignee_id=world.user_a_id)
    assert firing.fire_due(reminder_id=reminder) == 1
    fired_at = reminder_row(reminder).fired_at
    for _ in range(2):
        assert firing.fire_due(reminder_id=reminder) == 0
        assert firing.fire_due() == 0
        jobs.fire_reminder(reminder)  # the Huey jobs, run inline
        jobs.sweep_due_reminders()
    assert len(notifications_of(reminder)) == 1
    assert reminder_row(reminder).fired_at == fired_at and reminder_row(reminder).fired_count == 1


def test_without_an_assignee_every_active_user_of_the_business_is_notified(world: World) -> None:
    second = make_user("second@a-biz.co.il", "business", world.business_a)
    gone = make_user("gone@a-biz.co.il", "business", world.business_a)
    db_session.execute(update(User).where(User.id == gone).values(is_active=False))
    db_session.commit()
    lead = make_lead(world.business_a)
    reminder = insert_due_reminder(world.business_a, lead)

    assert firing.fire_due() == 1
    assert firing.fire_due() == 0
    assert [n.user_id for n in notifications_of(reminder)] == sorted([world.user_a_id, second])
    # Never B's users, never platform staff.
    db_session.remove()
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 2


def test_an_inactive_assignee_falls_back_to_everyone(world: World) -> None:
    gone = make_user("gone@a-biz.co.il", "business", world.business_a)
    lead = make_lead(world.business_a)
    reminder = insert_due_reminder(world.business_a, lead, assignee_id=gone)
    db_session.execute(update(User).where(User.id == gone).values(is_active=False))
    db_session.commit()
    db_session.remove()
    firing.fire_due()
    assert [n.user_id for n in notifications_of(reminder)] == [world.user_a_id]


def test_not_yet_due_done_and_deleted_lead_reminders_do_not_fire(world: World) -> None:
    lead = make_lead(world.business_a)
    later = make_reminder(world.business_a, lead, utcnow() + timedelta(minutes=5))
    done = insert_due_reminder(world.business_a, lead, done_at=utcnow())
    other_lead = make_lead(world.business_a, "053-999-8877", "ליד שנמחק")
    orphan = insert_due_reminder(world.business_a, other_lead)
    db_session.execute(update(Lead).where(Lead.id == other_lead).values(deleted_at=utcnow()))
    db_session.commit()
    db_session.remove()

    assert firing.fire_due() == 0
    jobs.fire_reminder(later)
    for reminder in (later, done, orphan):
        assert notifications_of(reminder) == []
        assert reminder_row(reminder).fired_at is None


def test_creating_a_reminder_schedules_its_job_at_due_at(world: World) -> None:
    huey.flush()
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    due = utcnow() + timedelta(seconds=1)
    reminder = make_reminder(world.business_a, lead, due)
    (task,) = [t for t in huey.scheduled() if t.name.endswith("fire_reminder")]
    assert task.args == (reminder,)
    assert task.eta.replace(tzinfo=None) == due.replace(tzinfo=None)  # Huey keeps naive UTC

    assert notifications_of(reminder) == []  # not before its time
    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.05)
    for ready in huey.read_schedule(utcnow().replace(tzinfo=None)):
        huey.execute(ready)  # what the consumer's scheduler does once eta has passed
    assert [n.user_id for n in notifications_of(reminder)] == [world.user_a_id]


def test_a_reminder_created_already_due_fires_at_once(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminder = make_reminder(world.business_a, lead, utcnow() - timedelta(minutes=3))
    assert reminder_row(reminder).fired_at is not None
    assert len(notifications_of(reminder)) == 1


def test_a_snoozed_reminder_fires_again_raising_the_same_notification(world: World) -> None:
    api = world.as_("business_a")
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminder = insert_due_reminder(world.business_a, lead)
    firing.fire_due()
    (first,) = notifications_of(reminder)
    assert api.patch(f"/api/notifications/{first.id}", {"read": True}).json["read"] is True

    snoozed = api.patch(f"/api/leads/{lead}/reminders/{reminder}", {"snooze_minutes": 10}).json
    assert snoozed["fired_at"] is None and snoozed["snoozed_count"] == 1
    assert firing.fire_due() == 0  # not due yet
    # Ten minutes later:
    db_session.execute(
        update(Reminder).where(Reminder.id == reminder).values(due_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()
    db_session.remove()
    assert firing.fire_due() == 1
    assert firing.fire_due() == 0
    (again,) = notifications_of(reminder)
    assert again.id == first.id and again.times_raised == 2
    assert again.read_at is None and again.created_at > first.created_at
    assert reminder_row(reminder).fired_count == 2
    listed = api.get("/api/notifications").json
    assert listed["unread_count"] == 1 and listed["items"][0]["id"] == first.id


def test_marking_a_reminder_done_reads_its_notifications(world: World) -> None:
    api = world.as_("business_a")
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminder = insert_due_reminder(world.business_a, lead)
    firing.fire_due()
    assert api.get("/api/notifications").json["unread_count"] == 1
    assert api.patch(f"/api/leads/{lead}/reminders/{reminder}", {"done": True}).status_code == 200
    assert api.get("/api/notifications").json["unread_count"] == 0


def test_the_database_refuses_a_second_notification_for_the_same_user(world: World) -> None:
    lead = make_lead(world.business_a)
    reminder = insert_due_reminder(world.business_a, lead, assignee_id=world.user_a_id)
    firing.fire_due()
    db_session.add(
        Notification(
            business_id=world.business_a,
            user_id=world.user_a_id,
            kind="reminder_due",
            title="again",
            body="",
            lead_id=lead,
            reminder_id=reminder,
            times_raised=1,
        )
    )
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()
    db_session.remove()


def test_parallel_sweeps_fire_each_reminder_exactly_once(world: World) -> None:
    """Eight sweeps at once over 120 due reminders, as parallel consumers would run them."""
    second = make_user("second@a-biz.co.il", "business", world.business_a)
    lead = make_lead(world.business_a)
    now = utcnow()
    db_session.add_all(
        Reminder(
            business_id=world.business_a,
            lead_id=lead,
            due_at=now - timedelta(seconds=i),
            text=f"#{i}",
            created_at=now,
            updated_at=now,
            fired_count=0,
            snoozed_count=0,
        )
        for i in range(120)
    )
    db_session.commit()
    db_session.remove()

    fired: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def sweep() -> None:
        try:
            barrier.wait()
            fired.append(firing.fire_due())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db_session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(fired) == 120
    db_session.remove()
    per_pair = db_session.execute(
        select(Notification.reminder_id, Notification.user_id, func.count()).group_by(
            Notification.reminder_id, Notification.user_id
        )
    ).all()
    assert len(per_pair) == 240  # 120 reminders x 2 users
    assert {count for _r, _u, count in per_pair} == {1}
    assert {user for _r, user, _c in per_pair} == {world.user_a_id, second}
    assert db_session.scalar(select(func.count()).where(Reminder.fired_count != 1)) == 0


def test_the_sweep_is_a_periodic_task_that_also_runs_when_the_consumer_starts() -> None:
    assert jobs.sweep_due_reminders in jobs_module._startup_tasks
    (sweep,) = [task for task in huey._registry.periodic_tasks if task.name == "sweep_due_reminders"]
    # Every minute of every hour.
    assert all(
        sweep.validate_datetime(datetime(2026, 11, 23, hour, minute))
        for hour in (0, 13)
        for minute in (0, 37)
    )


def test_one_reminder_that_cannot_fire_does_not_hold_back_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    first, broken, last = (
        insert_due_reminder(world.business_a, lead, ago=timedelta(minutes=m)) for m in (3, 2, 1)
    )
    real_notify = firing._notify

    def notify(claimed: list[firing.Claimed], now: datetime) -> None:
        if broken in [reminder.id for reminder in claimed]:
            raise IntegrityError("INSERT INTO notifications", {}, Exception("injected fault"))
        real_notify(claimed, now)

    monkeypatch.setattr(firing, "_notify", notify)
    assert firing.fire_due() == 2
    assert len(notifications_of(first)) == 1 and len(notifications_of(last)) == 1
    assert notifications_of(broken) == [] and reminder_row(broken).fired_at is None  # rolled back whole

    monkeypatch.setattr(firing, "_notify", real_notify)
    assert firing.fire_due() == 1  # the next sweep gets it
    assert len(notifications_of(broken)) == 1


def test_reopening_a_reminder_that_came_due_while_done_fires_it(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminder = insert_due_reminder(world.business_a, lead, done_at=utcnow())
    assert firing.fire_due() == 0
    response = world.as_("business_a").patch(f"/api/leads/{lead}/reminders/{reminder}", {"done": False})
    assert response.status_code == 200
    assert response.json["fired_at"] is not None  # its job ran at once (inline here)
    assert [n.user_id for n in notifications_of(reminder)] == [world.user_a_id]
