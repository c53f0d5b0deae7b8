"""Reminders on leads (/api/leads/<id>/reminders, /api/reminders) and notifications (/api/notifications).

Notifications belong to a user. Platform staff impersonating a business see the notifications of
all that business's users (each item names its user_id) and may mark them read: impersonation is
there to see and fix what the business sees, and every such write is audited by the guard.
"""

from __future__ import annotations

from flask import Blueprint

from server.auth.context import RequestContext, current_context
from server.auth.models import Role
from server.leads.models import Lead
from server.reminders import service
from server.reminders.models import Notification, Reminder
from server.reminders.schemas import (
    LeadBrief,
    LeadReminderList,
    NotificationList,
    NotificationOut,
    NotificationPatchIn,
    NotificationQuery,
    ReadAllOut,
    ReminderCreateIn,
    ReminderList,
    ReminderListItem,
    ReminderOut,
    ReminderPatchIn,
    ReminderQuery,
)
from server.validation import body_of, endpoint, query_of

bp = Blueprint("reminders", __name__, url_prefix="/api")
TAGS = ("reminders",)


def reminder_fields(reminder: Reminder) -> dict[str, object]:
    return {
        "id": reminder.id,
        "business_id": reminder.business_id,
        "lead_id": reminder.lead_id,
        "due_at": reminder.due_at,
        "text": reminder.text,
        "assignee_id": reminder.assignee_id,
        "created_by_id": reminder.created_by_id,
        "created_at": reminder.created_at,
        "updated_at": reminder.updated_at,
        "done": reminder.is_done,
        "done_at": reminder.done_at,
        "done_by_id": reminder.done_by_id,
        "fired_at": reminder.fired_at,
        "fired_count": reminder.fired_count,
        "snoozed_count": reminder.snoozed_count,
    }


def reminder_out(reminder: Reminder) -> ReminderOut:
    return ReminderOut.model_validate(reminder_fields(reminder))


def list_item(reminder: Reminder, lead: Lead) -> ReminderListItem:
    return ReminderListItem.model_validate(
        {
            **reminder_fields(reminder),
            "lead": LeadBrief(id=lead.id, full_name=lead.full_name, phone=lead.phone),
        }
    )


@bp.post("/leads/<int:lead_id>/reminders")
@endpoint(json=ReminderCreateIn, resp=ReminderOut, status=201, tags=TAGS)
def create_reminder(lead_id: int) -> tuple[ReminderOut, int]:
    ctx = current_context()
    reminder = service.create_reminder(ctx.tenant, lead_id, body_of(ReminderCreateIn), ctx.user_id)
    return reminder_out(reminder), 201


@bp.get("/leads/<int:lead_id>/reminders")
@endpoint(resp=LeadReminderList, tags=TAGS)
def lead_reminders(lead_id: int) -> LeadReminderList:
    rows = service.lead_reminders(current_context().tenant, lead_id)
    return LeadReminderList(items=[reminder_out(r) for r in rows])


@bp.patch("/leads/<int:lead_id>/reminders/<int:reminder_id>")
@endpoint(json=ReminderPatchIn, resp=ReminderOut, tags=TAGS)
def update_reminder(lead_id: int, reminder_id: int) -> ReminderOut:
    ctx = current_context()
    reminder = service.update_reminder(
        ctx.tenant, lead_id, reminder_id, body_of(ReminderPatchIn), ctx.user_id
    )
    return reminder_out(reminder)


@bp.get("/reminders")
@endpoint(query=ReminderQuery, resp=ReminderList, tags=TAGS)
def list_reminders() -> ReminderList:
    ctx = current_context()
    page = service.list_reminders(ctx.tenant, query_of(ReminderQuery), ctx.user_id)
    return ReminderList(
        items=[list_item(reminder, lead) for reminder, lead in page.rows],
        next_cursor=page.next_cursor,
        timezone=page.zone.key,
        window_start=page.start,
        window_end=page.end,
    )


# ---------------------------------------------------------------- notifications


def inbox_of(ctx: RequestContext) -> service.Inbox:
    if ctx.role is Role.business:
        return service.Inbox(ctx.tenant, ctx.user_id)
    return service.Inbox(ctx.tenant, None)  # staff impersonating: the whole business's


def notification_out(notification: Notification) -> NotificationOut:
    return NotificationOut(
        id=notification.id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        user_id=notification.user_id,
        lead_id=notification.lead_id,
        reminder_id=notification.reminder_id,
        created_at=notification.created_at,
        read_at=notification.read_at,
        read=notification.read_at is not None,
        times_raised=notification.times_raised,
    )


@bp.get("/notifications")
@endpoint(query=NotificationQuery, resp=NotificationList, tags=TAGS)
def list_notifications() -> NotificationList:
    inbox = inbox_of(current_context())
    rows, next_cursor = service.list_notifications(inbox, query_of(NotificationQuery))
    return NotificationList(
        items=[notification_out(n) for n in rows],
        unread_count=service.unread_count(inbox),
        next_cursor=next_cursor,
    )


@bp.patch("/notifications/<int:notification_id>")
@endpoint(json=NotificationPatchIn, resp=NotificationOut, tags=TAGS)
def mark_notification(notification_id: int) -> NotificationOut:
    data: NotificationPatchIn = body_of(NotificationPatchIn)
    notification = service.mark_read(inbox_of(current_context()), notification_id, data.read)
    return notification_out(notification)


@bp.post("/notifications/read-all")
@endpoint(resp=ReadAllOut, tags=TAGS)
def read_all_notifications() -> ReadAllOut:
    inbox = inbox_of(current_context())
    updated = service.mark_all_read(inbox)
    return ReadAllOut(updated=updated, unread_count=service.unread_count(inbox))
