"""Firing due reminders: exactly once, decided by the database.

Three things fire reminders — the job scheduled at due_at, the sweep every minute and the sweep when
a consumer starts — and several consumers may run them at once. Each firing claims the reminder with
``UPDATE … SET fired_at WHERE fired_at IS NULL`` in the same transaction that writes its
notifications, so only one claim wins and a crash leaves it unfired for the next sweep. On PostgreSQL
the candidates are read ``FOR UPDATE SKIP LOCKED`` so parallel sweeps split the work instead of
queueing on each other's rows; the UNIQUE (reminder_id, user_id) key on notifications is the last
guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from server.auth.models import Role, User
from server.db import db_session, utcnow
from server.leads.models import Lead
from server.reminders.models import Notification, NotificationKind, Reminder

log = logging.getLogger(__name__)

SWEEP_BATCH = 200
# A sweep stops after this many batches and leaves the rest to the next minute's sweep.
SWEEP_MAX_BATCHES = 50


def _due(now: datetime) -> list[ColumnElement[bool]]:
    live_lead = exists().where(Lead.id == Reminder.lead_id, Lead.deleted_at.is_(None))
    return [Reminder.due_at <= now, Reminder.fired_at.is_(None), Reminder.done_at.is_(None), live_lead]


def fire_due(*, reminder_id: int | None = None, now: datetime | None = None) -> int:
    """Fire every reminder due by `now` (or just `reminder_id` if it is due); returns how many *this*
    call fired. Safe to run any number of times, concurrently."""
    now = now or utcnow()
    fired = 0
    failed: set[int] = set()  # skipped for the rest of this sweep; the next one tries them again
    for _batch in range(SWEEP_MAX_BATCHES):
        candidates = select(Reminder.id).where(*_due(now)).order_by(Reminder.due_at, Reminder.id)
        if reminder_id is not None:
            candidates = candidates.where(Reminder.id == reminder_id)
        if failed:
            candidates = candidates.where(Reminder.id.not_in(failed))
        # Ignored by SQLite, where writers are serialised anyway and the guarded UPDATE decides.
        candidates = candidates.limit(SWEEP_BATCH).with_for_update(skip_locked=True, of=Reminder)
        ids = list(db_session.scalars(candidates))
        if not ids:
            db_session.rollback()
            break
        try:
            fired += _fire(ids, now)
            db_session.commit()
        except SQLAlchemyError:
            # One bad row must not hold back every other reminder: redo this batch one by one.
            db_session.rollback()
            log.exception("firing a batch of %s reminders failed; retrying them one by one", len(ids))
            fired += _fire_one_by_one(ids, now, failed)
        if reminder_id is not None or len(ids) < SWEEP_BATCH:
            break
    return fired


def _fire_one_by_one(ids: list[int], now: datetime, failed: set[int]) -> int:
    fired = 0
    for reminder_id in ids:
        try:
            fired += _fire([reminder_id], now)
            db_session.commit()
        except SQLAlchemyError:
            db_session.rollback()
            failed.add(reminder_id)
            log.exception("reminder %s could not be fired; the next sweep tries again", reminder_id)
    return fired


@dataclass(frozen=True)
class Claimed:
    id: int
    business_id: int
    lead_id: int
    assignee_id: int | None
    text: str


def _fire(ids: list[int], now: datetime) -> int:
    """Claim the reminders still unfired (one guarded UPDATE) and notify for those; returns how many."""
    rows = db_session.execute(
        update(Reminder)
        .where(
            Reminder.id.in_(ids),
            Reminder.fired_at.is_(None),
            Reminder.done_at.is_(None),
            Reminder.due_at <= now,
        )
        .values(fired_at=now, fired_count=Reminder.fired_count + 1)
        .returning(Reminder.id, Reminder.business_id, Reminder.lead_id, Reminder.assignee_id, Reminder.text)
        .execution_options(synchronize_session=False)
    ).all()
    # Whatever is not in `rows` was fired (or snoozed, or done) by someone else since we read it.
    claimed = [Claimed(*row) for row in rows]
    if claimed:
        _notify(claimed, now)
    return len(claimed)


def _active_users(business_ids: set[int]) -> dict[int, list[int]]:
    users: dict[int, list[int]] = {business_id: [] for business_id in business_ids}
    for user_id, business_id in db_session.execute(
        select(User.id, User.business_id)
        .where(User.business_id.in_(business_ids), User.role == Role.business.value, User.is_active.is_(True))
        .order_by(User.id)
    ):
        if business_id is not None:  # always, for business users (a check constraint)
            users[business_id].append(user_id)
    return users


def recipients(reminder: Claimed, lead_assignee_id: int | None, active: dict[int, list[int]]) -> list[int]:
    """The reminder's own assignee, else the lead's assignee now, if still an active user of the
    business; otherwise every active user of it."""
    everyone = active.get(reminder.business_id, [])
    for candidate in (reminder.assignee_id, lead_assignee_id):
        if candidate is not None and candidate in everyone:
            return [candidate]
    return everyone


def _title(name: str, phone: str | None, lead_id: int) -> str:
    return f"תזכורת: {name or phone or f'ליד {lead_id}'}"[:300]


def _notify(claimed: list[Claimed], now: datetime) -> None:
    active = _active_users({r.business_id for r in claimed})
    leads = {
        lead_id: (_title(name, phone, lead_id), assignee_id)
        for lead_id, name, phone, assignee_id in db_session.execute(
            select(Lead.id, Lead.full_name, Lead.phone, Lead.assignee_id).where(
                Lead.id.in_({r.lead_id for r in claimed})
            )
        )
    }
    # A snoozed reminder that fires again raises the same notification again (one per user, ever).
    existing = {
        (n.reminder_id, n.user_id): n
        for n in db_session.scalars(
            select(Notification).where(Notification.reminder_id.in_([r.id for r in claimed]))
        )
    }
    new_rows: list[dict[str, object]] = []
    for reminder in claimed:
        title, lead_assignee_id = leads.get(reminder.lead_id, ("תזכורת", None))
        users = recipients(reminder, lead_assignee_id, active)
        if not users:
            log.warning(
                "reminder %s of business %s fired with nobody to notify", reminder.id, reminder.business_id
            )
        for user_id in users:
            notification = existing.get((reminder.id, user_id))
            if notification is None:
                new_rows.append(
                    {
                        "business_id": reminder.business_id,
                        "user_id": user_id,
                        "kind": NotificationKind.reminder_due.value,
                        "title": title,
                        "body": reminder.text,
                        "lead_id": reminder.lead_id,
                        "reminder_id": reminder.id,
                        "created_at": now,
                        "read_at": None,
                        "times_raised": 1,
                    }
                )
            else:
                notification.title, notification.body = title, reminder.text
                notification.created_at, notification.read_at = now, None
                notification.times_raised += 1
        log.info("reminder %s fired: %s notified", reminder.id, len(users))
    if new_rows:
        db_session.execute(insert(Notification), new_rows)
