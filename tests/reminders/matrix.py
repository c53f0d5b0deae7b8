"""Reminders and notifications in the guard matrix (and so in the CSRF-on-every-write test)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.db import utcnow
from server.reminders import firing
from tests.conftest import World
from tests.reminders.helpers import insert_due_reminder, make_lead, make_reminder, notifications_of
from tests.test_guard_matrix import Route

B_404_LEAD = {"business_b": (404, "lead_not_found")}

ROUTES: list[Route] = [
    Route(
        "POST",
        "/api/leads/{rem_lead}/reminders",
        {"due_at": "2029-06-01T09:00:00+03:00", "text": "לחזור ללקוח"},
        expect=B_404_LEAD,
    ),
    Route("GET", "/api/leads/{rem_lead}/reminders", expect=B_404_LEAD),
    Route(
        "PATCH", "/api/leads/{rem_lead}/reminders/{rem_reminder}", {"snooze_minutes": 30}, expect=B_404_LEAD
    ),
    Route("GET", "/api/reminders"),
    Route("GET", "/api/notifications"),
    Route(
        "PATCH",
        "/api/notifications/{rem_notification}",
        {"read": True},
        expect={"business_b": (404, "notification_not_found")},
    ),
    Route("POST", "/api/notifications/read-all"),
]


def fixtures(world: World) -> dict[str, Any]:
    """A lead of business A with an open reminder, and a notification addressed to A's user."""
    lead = make_lead(world.business_a, "052-777-1212", "ליד מטריצה")
    reminder = make_reminder(world.business_a, lead, utcnow() + timedelta(days=1))
    fired = insert_due_reminder(world.business_a, lead, assignee_id=world.user_a_id)
    firing.fire_due(reminder_id=fired)
    (notification,) = notifications_of(fired)
    return {"rem_lead": lead, "rem_reminder": reminder, "rem_notification": notification.id}
