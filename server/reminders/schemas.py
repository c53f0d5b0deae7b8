from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from server.auth.schemas import Strict

# Snoozing further than this is rescheduling: send due_at instead.
MAX_SNOOZE_MINUTES = 60 * 24 * 30


def _iso_string(value: Any) -> Any:
    """Only an ISO 8601 string (or a datetime, from Python): a bare number would be read as a Unix time."""
    if not isinstance(value, str | datetime):
        raise ValueError(
            "must be an ISO 8601 date-time string with a UTC offset, e.g. 2026-12-01T09:30:00+02:00"
        )
    return value


# Timezone-aware: "2026-12-01T09:30:00+02:00" or "…Z". A naive time is refused (422 naming the field):
# the server cannot guess whether the user meant Israel time, UTC or the browser's zone.
DueAt = Annotated[AwareDatetime, BeforeValidator(_iso_string)]


class ReminderCreateIn(Strict):
    due_at: DueAt
    text: str = Field(default="", max_length=2000)
    # Who is notified; default: the lead's assignee, or every user of the business if it has none.
    assignee_id: int | None = None


class ReminderPatchIn(Strict):
    """One of: {"done": true|false}, {"snooze_minutes": N}, {"due_at": …}; text/assignee_id may ride along."""

    done: bool | None = None
    snooze_minutes: int | None = Field(default=None, ge=1, le=MAX_SNOOZE_MINUTES)
    due_at: DueAt | None = None
    text: str | None = Field(default=None, max_length=2000)
    assignee_id: int | None = None


DueWindow = Literal["overdue", "today", "upcoming"]


class ReminderQuery(Strict):
    due: DueWindow | None = None
    state: Literal["open", "done", "all"] = "open"
    # "me": reminders addressed to me, or to everyone in the business (no assignee).
    assignee: Literal["me"] | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class LeadBrief(BaseModel):
    id: int
    full_name: str
    phone: str | None


class ReminderOut(BaseModel):
    id: int
    business_id: int
    lead_id: int
    due_at: datetime
    text: str
    assignee_id: int | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    done: bool
    done_at: datetime | None
    done_by_id: int | None
    fired_at: datetime | None
    fired_count: int
    snoozed_count: int


class ReminderListItem(ReminderOut):
    lead: LeadBrief


class ReminderList(BaseModel):
    items: list[ReminderListItem]
    next_cursor: str | None
    # The window's bounds in UTC and the zone they were computed in (the business's).
    timezone: str
    window_start: datetime | None
    window_end: datetime | None


class LeadReminderList(BaseModel):
    items: list[ReminderOut]


class NotificationQuery(Strict):
    unread: bool | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    user_id: int
    lead_id: int | None
    reminder_id: int | None
    created_at: datetime
    read_at: datetime | None
    read: bool
    times_raised: int


class NotificationList(BaseModel):
    items: list[NotificationOut]
    unread_count: int
    next_cursor: str | None


class NotificationPatchIn(Strict):
    read: bool


class ReadAllOut(BaseModel):
    updated: int
    unread_count: int
