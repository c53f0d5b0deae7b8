"""Reminders on a tenant's leads, the due/today/overdue views, and each user's notifications.

Every function takes the TenantId the guard resolved. A lead or reminder of another tenant is
"not found" (existence does not leak), as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select, update

from server import pagination
from server.auth.context import TenantId
from server.auth.models import Role, User
from server.business.models import Business
from server.db import db_session, utcnow
from server.errors import Conflict, NotFound, ValidationFailed
from server.leads import service as leads
from server.leads.models import Lead, LeadEventKind
from server.reminders import jobs
from server.reminders.models import Notification, Reminder
from server.reminders.schemas import (
    DueWindow,
    NotificationQuery,
    ReminderCreateIn,
    ReminderPatchIn,
    ReminderQuery,
)

DEFAULT_TIMEZONE = "Asia/Jerusalem"
# Further ahead than this is a typo (a year 2205), not a reminder.
MAX_AHEAD = timedelta(days=366 * 5)


def _invalid(field: str, message: str, kind: str = "value") -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": kind}])


# ---------------------------------------------------------------- reminders


def _check_due(due_at: datetime, now: datetime, field: str = "due_at") -> datetime:
    if due_at - now > MAX_AHEAD:
        raise _invalid(field, "is more than five years ahead")
    return due_at


def _check_assignee(tenant: TenantId, assignee_id: int) -> int:
    user = db_session.get(User, assignee_id)
    if user is None or user.business_id != tenant or user.role != Role.business.value or not user.is_active:
        raise _invalid("assignee_id", "not an active user of this business")
    return assignee_id


def _iso(value: datetime) -> str:
    return value.isoformat()


def _reminder_of(tenant: TenantId, lead: Lead, reminder_id: int) -> Reminder:
    reminder = db_session.scalar(
        select(Reminder).where(
            Reminder.id == reminder_id, Reminder.lead_id == lead.id, Reminder.business_id == tenant
        )
    )
    if reminder is None:
        raise NotFound("reminder", reminder_id)
    return reminder


def get_reminder(tenant: TenantId, lead_id: int, reminder_id: int) -> Reminder:
    return _reminder_of(tenant, leads.get_lead(tenant, lead_id), reminder_id)


def _fresh(reminder_id: int) -> Reminder:
    """Re-read after the job was scheduled (in immediate mode it has already run and committed)."""
    db_session.expire_all()
    reminder = db_session.get(Reminder, reminder_id)
    assert reminder is not None
    return reminder


def lead_reminders(tenant: TenantId, lead_id: int) -> list[Reminder]:
    lead = leads.get_lead(tenant, lead_id)
    return list(
        db_session.scalars(
            select(Reminder)
            .where(Reminder.lead_id == lead.id, Reminder.business_id == tenant)
            .order_by(Reminder.due_at, Reminder.id)
        )
    )


def create_reminder(tenant: TenantId, lead_id: int, data: ReminderCreateIn, actor_id: int | None) -> Reminder:
    lead = leads.get_lead(tenant, lead_id)
    now = utcnow()
    due_at = _check_due(data.due_at, now)
    # No assignee given: whoever the lead is assigned to when it fires (or everyone), decided then.
    assignee = _check_assignee(tenant, data.assignee_id) if data.assignee_id is not None else None
    reminder = Reminder(
        business_id=tenant,
        lead_id=lead.id,
        due_at=due_at,
        text=data.text.strip(),
        assignee_id=assignee,
        created_by_id=actor_id,
        created_at=now,
        updated_at=now,
        fired_count=0,
        snoozed_count=0,
    )
    db_session.add(reminder)
    db_session.flush()
    leads.record_event(
        lead,
        LeadEventKind.reminder_set,
        actor_id,
        text=reminder.text or None,
        data={"reminder_id": reminder.id, "due_at": _iso(reminder.due_at), "assignee_id": assignee},
    )
    db_session.commit()
    jobs.schedule_firing(reminder.id, reminder.due_at)
    return _fresh(reminder.id)


def update_reminder(
    tenant: TenantId, lead_id: int, reminder_id: int, data: ReminderPatchIn, actor_id: int | None
) -> Reminder:
    """done true/false, snooze by N minutes from now, or move to a new due_at; text and assignee too.

    Snoozing or moving a reminder makes it fire again at the new time, even if it already fired.
    """
    given = {key for key, value in data.model_dump(exclude_unset=True).items() if value is not None}
    if "assignee_id" in data.model_fields_set:
        given.add("assignee_id")  # an explicit null clears it: notify every user of the business
    if not given:
        raise _invalid("body", "send one of done, snooze_minutes, due_at, text or assignee_id", "missing")
    if {"snooze_minutes", "due_at"} <= given:
        raise ValidationFailed(
            [
                {
                    "field": "snooze_minutes",
                    "message": "send snooze_minutes or due_at, not both",
                    "type": "value",
                },
                {"field": "due_at", "message": "send snooze_minutes or due_at, not both", "type": "value"},
            ]
        )
    moving = given & {"snooze_minutes", "due_at"}
    if data.done is True and moving:
        field = next(iter(sorted(moving)))
        raise _invalid(field, "a reminder marked done cannot be snoozed in the same request")

    lead = leads.get_lead(tenant, lead_id)
    reminder = _reminder_of(tenant, lead, reminder_id)
    now = utcnow()
    if moving and reminder.is_done and data.done is not False:
        raise Conflict(
            "reminder_done",
            f'Reminder {reminder.id} is done; reopen it ("done": false) to snooze or reschedule it.',
        )

    if data.done is True and not reminder.is_done:
        reminder.done_at, reminder.done_by_id = now, actor_id
        leads.record_event(
            lead,
            LeadEventKind.reminder_done,
            actor_id,
            text=reminder.text or None,
            data={"reminder_id": reminder.id},
        )
        # Its notifications have nothing left to ask of anyone.
        db_session.execute(
            update(Notification)
            .where(Notification.reminder_id == reminder.id, Notification.read_at.is_(None))
            .values(read_at=now)
        )
    reopened = data.done is False and reminder.is_done
    if reopened:
        reminder.done_at, reminder.done_by_id = None, None
        if not moving:
            leads.record_event(
                lead,
                LeadEventKind.reminder_set,
                actor_id,
                text=reminder.text or None,
                data={"reminder_id": reminder.id, "due_at": _iso(reminder.due_at), "reopened": True},
            )

    if data.text is not None:
        reminder.text = data.text.strip()
    if "assignee_id" in given:
        reminder.assignee_id = (
            _check_assignee(tenant, data.assignee_id) if data.assignee_id is not None else None
        )

    if moving:
        details: dict[str, Any] = {"reminder_id": reminder.id, "previous_due_at": _iso(reminder.due_at)}
        if data.snooze_minutes is not None:
            reminder.due_at = now + timedelta(minutes=data.snooze_minutes)
            reminder.snoozed_count += 1
            details["snoozed_minutes"] = data.snooze_minutes
        else:
            assert data.due_at is not None
            reminder.due_at = _check_due(data.due_at, now)
            details["rescheduled"] = True
        reminder.fired_at = None
        details["due_at"] = _iso(reminder.due_at)
        leads.record_event(
            lead, LeadEventKind.reminder_set, actor_id, text=reminder.text or None, data=details
        )

    reminder.updated_at = now
    db_session.commit()
    # Its job is already scheduled at due_at unless it moved or was done (the job then found it done).
    if (moving or reopened) and not reminder.is_done and reminder.fired_at is None:
        jobs.schedule_firing(reminder.id, reminder.due_at)
        return _fresh(reminder.id)
    return reminder


# ---------------------------------------------------------------- due / today / overdue


def business_zone(tenant: TenantId) -> ZoneInfo:
    name = db_session.scalar(select(Business.timezone).where(Business.id == tenant)) or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_day(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of a calendar day in the zone: 23 or 25 hours on DST days."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def window(zone: ZoneInfo, due: DueWindow | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """overdue: due before now; today: due on today's date in the business's zone (past or not);
    upcoming: due from now on."""
    if due == "overdue":
        return None, now
    if due == "upcoming":
        return now, None
    if due == "today":
        return local_day(zone, now.astimezone(zone).date())
    return None, None


@dataclass
class ReminderPage:
    rows: list[tuple[Reminder, Lead]]
    next_cursor: str | None
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None


def list_reminders(
    tenant: TenantId, query: ReminderQuery, user_id: int | None, now: datetime | None = None
) -> ReminderPage:
    now = now or utcnow()
    zone = business_zone(tenant)
    start, end = window(zone, query.due, now)
    stmt = (
        select(Reminder, Lead)
        .join(Lead, Lead.id == Reminder.lead_id)
        .where(Reminder.business_id == tenant, Lead.deleted_at.is_(None))
    )
    if query.state == "open":
        stmt = stmt.where(Reminder.done_at.is_(None))
    elif query.state == "done":
        stmt = stmt.where(Reminder.done_at.is_not(None))
    if start is not None:
        stmt = stmt.where(Reminder.due_at >= start)
    if end is not None:
        stmt = stmt.where(Reminder.due_at < end)
    if query.assignee == "me":
        for_the_lead = or_(Lead.assignee_id == user_id, Lead.assignee_id.is_(None))
        stmt = stmt.where(
            or_(Reminder.assignee_id == user_id, and_(Reminder.assignee_id.is_(None), for_the_lead))
        )
    if query.cursor:
        due_at, last_id = pagination.decode_cursor(query.cursor)
        stmt = stmt.where(
            or_(Reminder.due_at > due_at, and_(Reminder.due_at == due_at, Reminder.id > last_id))
        )
    result = db_session.execute(stmt.order_by(Reminder.due_at, Reminder.id).limit(query.limit + 1))
    rows = [(reminder, lead) for reminder, lead in result]
    rows, next_cursor = pagination.page(rows, query.limit, lambda row: (row[0].due_at, row[0].id))
    return ReminderPage(rows, next_cursor, zone, start, end)


# ---------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Inbox:
    """Whose notifications a request sees: one user's, or (user_id None) every user's of the tenant —
    what platform staff impersonating the business see."""

    tenant: TenantId
    user_id: int | None


def _in_inbox(inbox: Inbox) -> list[Any]:
    conditions: list[Any] = [Notification.business_id == inbox.tenant]
    if inbox.user_id is not None:
        conditions.append(Notification.user_id == inbox.user_id)
    return conditions


def unread_count(inbox: Inbox) -> int:
    return (
        db_session.scalar(select(func.count()).where(*_in_inbox(inbox), Notification.read_at.is_(None))) or 0
    )


def list_notifications(inbox: Inbox, query: NotificationQuery) -> tuple[list[Notification], str | None]:
    """Newest first (a re-raised notification counts from when it was raised again)."""
    stmt = select(Notification).where(*_in_inbox(inbox))
    if query.unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif query.unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    if query.cursor:
        at, last_id = pagination.decode_cursor(query.cursor)
        stmt = stmt.where(
            or_(Notification.created_at < at, and_(Notification.created_at == at, Notification.id < last_id))
        )
    rows = list(
        db_session.scalars(
            stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(query.limit + 1)
        )
    )
    return pagination.page(rows, query.limit, lambda notification: (notification.created_at, notification.id))


def mark_read(inbox: Inbox, notification_id: int, read: bool) -> Notification:
    notification = db_session.scalar(
        select(Notification).where(Notification.id == notification_id, *_in_inbox(inbox))
    )
    if notification is None:
        raise NotFound("notification", notification_id)
    if read and notification.read_at is None:
        notification.read_at = utcnow()
    elif not read:
        notification.read_at = None
    db_session.commit()
    return notification


def mark_all_read(inbox: Inbox) -> int:
    result = db_session.execute(
        update(Notification)
        .where(*_in_inbox(inbox), Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db_session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
