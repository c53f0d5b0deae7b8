"""Building leads, reminders and due reminders through the service layer (as the agents and the API do)."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.auth.context import TenantId
from server.db import db_session, utcnow
from server.leads import service as leads
from server.leads.models import Lead, LeadSource
from server.reminders import service
from server.reminders.models import Notification, Reminder
from server.reminders.schemas import ReminderCreateIn


def make_lead(
    business_id: int, phone: str = "050-234-5678", name: str = "דנה כהן", assignee: int | None = None
) -> int:
    lead, _created = leads.upsert_from_channel(TenantId(business_id), phone, LeadSource.call, full_name=name)
    lead.assignee_id = assignee
    db_session.commit()
    lead_id = lead.id
    db_session.remove()
    return lead_id


def make_reminder(
    business_id: int, lead_id: int, due_at: datetime, text: str = "לחזור ללקוחה", **kw: object
) -> int:
    reminder = service.create_reminder(
        TenantId(business_id), lead_id, ReminderCreateIn(due_at=due_at, text=text, **kw), actor_id=None
    )
    reminder_id = reminder.id
    db_session.remove()
    return reminder_id


def insert_due_reminder(
    business_id: int, lead_id: int, ago: timedelta = timedelta(minutes=1), **kw: object
) -> int:
    """A reminder whose due time passed with no job ever run for it (the server was down)."""
    now = utcnow()
    reminder = Reminder(
        business_id=business_id,
        lead_id=lead_id,
        due_at=now - ago,
        text=str(kw.pop("text", "התקשר שוב")),
        created_at=now - ago - timedelta(hours=1),
        updated_at=now - ago - timedelta(hours=1),
        fired_count=0,
        snoozed_count=0,
        **kw,
    )
    db_session.add(reminder)
    db_session.commit()
    reminder_id = reminder.id
    db_session.remove()
    return reminder_id


def reminder_row(reminder_id: int) -> Reminder:
    db_session.remove()
    reminder = db_session.get(Reminder, reminder_id)
    assert reminder is not None
    db_session.remove()
    return reminder


def notifications_of(reminder_id: int) -> list[Notification]:
    db_session.remove()
    from sqlalchemy import select

    rows = list(
        db_session.scalars(
            select(Notification).where(Notification.reminder_id == reminder_id).order_by(Notification.user_id)
        )
    )
    db_session.remove()
    return rows


def lead_row(lead_id: int) -> Lead:
    db_session.remove()
    lead = db_session.get(Lead, lead_id)
    assert lead is not None
    db_session.remove()
    return lead
