"""Reminders on leads: create, list, done/snooze/reschedule, the due windows, validation, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from server.business.models import Business
from server.db import db_session, get_engine, utcnow
from server.leads.models import Lead, LeadEvent
from server.reminders import service
from tests.conftest import World, error_of, make_user
from tests.reminders.helpers import make_lead, reminder_row


def iso(value: datetime) -> str:
    return value.isoformat()


def future(**delta: float) -> datetime:
    return (utcnow() + timedelta(**delta)).replace(microsecond=0)


def events(lead_id: int) -> list[LeadEvent]:
    db_session.remove()
    rows = list(
        db_session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id))
    )
    db_session.remove()
    return rows


@pytest.fixture
def lead_a(world: World) -> int:
    return make_lead(world.business_a, assignee=world.user_a_id)


def test_create_returns_201_following_the_leads_assignee_and_records_the_timeline(
    world: World, lead_a: int
) -> None:
    api = world.as_("business_a")
    due = future(hours=3)
    response = api.post(
        f"/api/leads/{lead_a}/reminders", {"due_at": iso(due), "text": " להתקשר לגבי הצעת מחיר "}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["lead_id"] == lead_a and body["business_id"] == world.business_a
    assert datetime.fromisoformat(body["due_at"]) == due
    assert body["text"] == "להתקשר לגבי הצעת מחיר"
    assert body["assignee_id"] is None  # none given: it follows the lead's assignee when it fires
    assert body["created_by_id"] == world.user_a_id
    assert body["done"] is False and body["fired_at"] is None and body["snoozed_count"] == 0

    kinds = [(e.kind, e.actor_id, e.data.get("reminder_id")) for e in events(lead_a)]
    assert ("reminder_set", world.user_a_id, body["id"]) in kinds

    listed = api.get(f"/api/leads/{lead_a}/reminders").json["items"]
    assert [r["id"] for r in listed] == [body["id"]]


def test_due_at_in_another_offset_is_the_same_instant(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    response = api.post(f"/api/leads/{lead_a}/reminders", {"due_at": "2027-01-10T09:30:00+02:00"})
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json["due_at"]) == datetime(2027, 1, 10, 7, 30, tzinfo=UTC)
    zulu = api.post(f"/api/leads/{lead_a}/reminders", {"due_at": "2027-01-10T07:30:00Z"})
    assert zulu.json["due_at"] == response.json["due_at"]


def test_an_explicit_assignee_must_be_an_active_user_of_the_business(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    ok = api.post(
        f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1)), "assignee_id": colleague}
    )
    assert ok.status_code == 201 and ok.json["assignee_id"] == colleague
    for stranger in (world.user_b_id, world.admin_id, 999_999):
        refused = api.post(
            f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1)), "assignee_id": stranger}
        )
        assert error_of(refused) == (422, "invalid_fields")
        assert [f["field"] for f in refused.json["fields"]] == ["assignee_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_at": "2027-01-10T09:30:00", "text": "בלי אזור זמן"}, "due_at"),  # naive
        ({"due_at": "2027-01-10", "text": "רק תאריך"}, "due_at"),
        ({"due_at": "מחר בבוקר"}, "due_at"),
        ({"due_at": 1_800_000_000}, "due_at"),  # a Unix time is not ISO 8601
        ({"due_at": None}, "due_at"),
        ({"text": "אין מועד"}, "due_at"),
        ({"due_at": "2027-01-10T09:30:00+02:00", "text": "x" * 2001}, "text"),
        ({"due_at": "2027-01-10T09:30:00+02:00", "when": "tomorrow"}, "when"),
        ({"due_at": "2227-01-10T09:30:00+02:00"}, "due_at"),  # more than five years ahead
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    world: World, lead_a: int, body: dict[str, Any], field: str
) -> None:
    response = world.as_("business_a").post(f"/api/leads/{lead_a}/reminders", body)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_error"
    assert field in [f["field"] for f in response.json["fields"]]
    assert field in response.json["message"]


def test_a_non_json_body_is_refused(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    response = api.post(
        f"/api/leads/{lead_a}/reminders", data="due_at=2027-01-10", headers={"Content-Type": "text/plain"}
    )
    assert error_of(response) == (415, "unsupported_media_type")


def test_business_b_can_neither_see_nor_touch_a_reminders(world: World, lead_a: int) -> None:
    a, b = world.as_("business_a"), world.as_("business_b")
    reminder = a.post(
        f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=2)), "text": "סוד של א"}
    ).json
    lead_b = make_lead(world.business_b, "054-111-2222", "ליד של ב", assignee=world.user_b_id)
    b_reminder = b.post(f"/api/leads/{lead_b}/reminders", {"due_at": iso(future(hours=2))}).json

    assert error_of(b.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1))})) == (
        404,
        "lead_not_found",
    )
    assert error_of(b.get(f"/api/leads/{lead_a}/reminders")) == (404, "lead_not_found")
    assert error_of(b.patch(f"/api/leads/{lead_a}/reminders/{reminder['id']}", {"done": True})) == (
        404,
        "lead_not_found",
    )
    # A's reminder reached through B's own lead: still not found, never done.
    assert error_of(b.patch(f"/api/leads/{lead_b}/reminders/{reminder['id']}", {"done": True})) == (
        404,
        "reminder_not_found",
    )
    for due in (None, "overdue", "today", "upcoming"):
        for state in ("open", "done", "all"):
            params = {"state": state, **({"due": due} if due else {})}
            ids = {r["id"] for r in b.get("/api/reminders", query_string=params).json["items"]}
            assert reminder["id"] not in ids
    assert {r["id"] for r in b.get("/api/reminders").json["items"]} == {b_reminder["id"]}
    assert {r["id"] for r in a.get("/api/reminders").json["items"]} == {reminder["id"]}
    assert reminder_row(reminder["id"]).done_at is None


def test_an_impersonating_admin_acts_for_the_business(world: World, lead_a: int) -> None:
    admin = world.as_("admin_as_a")
    created = admin.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1))})
    assert created.status_code == 201
    assert created.json["created_by_id"] == world.admin_id
    assert [r["id"] for r in admin.get("/api/reminders").json["items"]] == [created.json["id"]]
    assert error_of(world.as_("admin").get("/api/reminders")) == (403, "no_tenant")


def test_done_and_reopen(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    reminder = api.post(
        f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1)), "text": "לשלוח חוזה"}
    ).json
    url = f"/api/leads/{lead_a}/reminders/{reminder['id']}"

    done = api.patch(url, {"done": True})
    assert done.status_code == 200
    assert done.json["done"] is True and done.json["done_by_id"] == world.user_a_id and done.json["done_at"]
    assert api.get("/api/reminders").json["items"] == []
    assert [r["id"] for r in api.get("/api/reminders", query_string={"state": "done"}).json["items"]] == [
        reminder["id"]
    ]
    again = api.patch(url, {"done": True})  # idempotent: the first completion is kept
    assert again.json["done_at"] == done.json["done_at"]
    assert [e.kind for e in events(lead_a)].count("reminder_done") == 1

    reopened = api.patch(url, {"done": False})
    assert (
        reopened.json["done"] is False
        and reopened.json["done_at"] is None
        and reopened.json["done_by_id"] is None
    )
    assert [r["id"] for r in api.get("/api/reminders").json["items"]] == [reminder["id"]]


def test_snooze_moves_due_at_from_now_and_counts(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    reminder = api.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(minutes=5))}).json
    url = f"/api/leads/{lead_a}/reminders/{reminder['id']}"
    before = utcnow()
    snoozed = api.patch(url, {"snooze_minutes": 90})
    after = utcnow()
    assert snoozed.status_code == 200, snoozed.json
    due = datetime.fromisoformat(snoozed.json["due_at"])
    assert before + timedelta(minutes=90) <= due <= after + timedelta(minutes=90)
    assert snoozed.json["snoozed_count"] == 1
    assert api.patch(url, {"snooze_minutes": 10}).json["snoozed_count"] == 2
    set_events = [e for e in events(lead_a) if e.kind == "reminder_set"]
    assert [e.data.get("snoozed_minutes") for e in set_events] == [None, 90, 10]

    moved = api.patch(url, {"due_at": "2027-03-01T08:00:00+02:00", "text": "מועד חדש"})
    assert moved.json["due_at"].startswith("2027-03-01T06:00:00")
    assert moved.json["text"] == "מועד חדש" and moved.json["snoozed_count"] == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body"]),
        ({"done": None}, ["body"]),
        ({"snooze_minutes": 0}, ["snooze_minutes"]),
        ({"snooze_minutes": 60 * 24 * 31}, ["snooze_minutes"]),
        ({"snooze_minutes": "ten"}, ["snooze_minutes"]),
        ({"snooze_minutes": 10, "due_at": "2027-03-01T08:00:00+02:00"}, ["snooze_minutes", "due_at"]),
        ({"done": True, "snooze_minutes": 10}, ["snooze_minutes"]),
        ({"due_at": "2027-03-01T08:00:00"}, ["due_at"]),
        ({"done": "yes please"}, ["done"]),
        ({"remind": True}, ["remind"]),
    ],
)
def test_invalid_patches_are_422_naming_the_field(
    world: World, lead_a: int, body: dict[str, Any], fields: list[str]
) -> None:
    api = world.as_("business_a")
    reminder = api.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1))}).json
    response = api.patch(f"/api/leads/{lead_a}/reminders/{reminder['id']}", body)
    assert response.status_code == 422, response.json
    assert [f["field"] for f in response.json["fields"]] == fields


def test_a_done_reminder_is_reopened_before_it_is_snoozed(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    reminder = api.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1))}).json
    url = f"/api/leads/{lead_a}/reminders/{reminder['id']}"
    api.patch(url, {"done": True})
    assert error_of(api.patch(url, {"snooze_minutes": 15})) == (409, "reminder_done")
    both = api.patch(url, {"done": False, "snooze_minutes": 15})
    assert both.status_code == 200 and both.json["done"] is False and both.json["snoozed_count"] == 1


def test_reminders_of_a_deleted_lead_are_gone_with_it(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    api.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(future(hours=1))})
    db_session.execute(update(Lead).where(Lead.id == lead_a).values(deleted_at=utcnow()))
    db_session.commit()
    db_session.remove()
    assert api.get("/api/reminders").json["items"] == []
    assert error_of(api.get(f"/api/leads/{lead_a}/reminders")) == (404, "lead_not_found")


# ---------------------------------------------------------------- today / overdue / upcoming

# Friday 27 March 2026: Israel moves to summer time at 02:00 (+02:00 → +03:00), so the day is 23 hours:
# it starts at 26 March 22:00 UTC and ends at 27 March 21:00 UTC. NOW is 12:00 Israel time.
NOW = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
DAY_START = datetime(2026, 3, 26, 22, 0, tzinfo=UTC)
DAY_END = datetime(2026, 3, 27, 21, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
LAYOUT = {
    "yesterday_last_second": DAY_START - SECOND,  # 23:59:59 on the 26th, Israel time
    "midnight": DAY_START,
    "just_before_now": NOW - SECOND,
    "now": NOW,
    "tonight_last_second": DAY_END - SECOND,
    "tomorrow_midnight": DAY_END,
}


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(service, "utcnow", lambda: NOW)
    return NOW


def _lay_out(world: World, lead_id: int) -> dict[str, int]:
    api = world.as_("business_a")
    ids = {}
    for name, due in LAYOUT.items():
        response = api.post(f"/api/leads/{lead_id}/reminders", {"due_at": iso(due), "text": name})
        assert response.status_code == 201, response.json
        ids[name] = response.json["id"]
    done = api.post(f"/api/leads/{lead_id}/reminders", {"due_at": iso(NOW - SECOND), "text": "done"}).json
    api.patch(f"/api/leads/{lead_id}/reminders/{done['id']}", {"done": True})
    ids["done"] = done["id"]
    return ids


def _names(world: World, ids: dict[str, int], **params: str) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    items = world.as_("business_a").get("/api/reminders", query_string=params).json["items"]
    return [by_id[item["id"]] for item in items]


def test_due_windows_in_asia_jerusalem_on_a_dst_day(world: World, lead_a: int, fixed_clock: datetime) -> None:
    ids = _lay_out(world, lead_a)
    assert _names(world, ids, due="overdue") == ["yesterday_last_second", "midnight", "just_before_now"]
    assert _names(world, ids, due="today") == ["midnight", "just_before_now", "now", "tonight_last_second"]
    assert _names(world, ids, due="upcoming") == ["now", "tonight_last_second", "tomorrow_midnight"]
    assert _names(world, ids) == list(LAYOUT)  # open ones, by due time
    # Same due time: the older reminder first.
    assert _names(world, ids, due="overdue", state="all") == [
        "yesterday_last_second",
        "midnight",
        "just_before_now",
        "done",
    ]
    assert _names(world, ids, due="today", state="done") == ["done"]

    today = world.as_("business_a").get("/api/reminders", query_string={"due": "today"}).json
    assert today["timezone"] == "Asia/Jerusalem"
    assert datetime.fromisoformat(today["window_start"]) == DAY_START
    assert datetime.fromisoformat(today["window_end"]) == DAY_END


def test_today_follows_the_business_timezone(world: World, lead_a: int, fixed_clock: datetime) -> None:
    db_session.execute(
        update(Business).where(Business.id == world.business_a).values(timezone="America/New_York")
    )
    db_session.commit()
    db_session.remove()
    ids = _lay_out(world, lead_a)
    # 05:00 in New York (EDT, -04:00): today there is 27 March 04:00 UTC → 28 March 04:00 UTC.
    assert _names(world, ids, due="today") == [
        "just_before_now",
        "now",
        "tonight_last_second",
        "tomorrow_midnight",
    ]
    body = world.as_("business_a").get("/api/reminders", query_string={"due": "today"}).json
    assert body["timezone"] == "America/New_York"
    assert datetime.fromisoformat(body["window_start"]) == datetime(2026, 3, 27, 4, 0, tzinfo=UTC)


def test_an_unknown_business_timezone_falls_back_to_israel(
    world: World, lead_a: int, fixed_clock: datetime
) -> None:
    db_session.execute(
        update(Business).where(Business.id == world.business_a).values(timezone="Mars/Olympus")
    )
    db_session.commit()
    db_session.remove()
    body = world.as_("business_a").get("/api/reminders", query_string={"due": "today"}).json
    assert body["timezone"] == "Asia/Jerusalem"
    assert datetime.fromisoformat(body["window_start"]) == DAY_START


def test_bad_query_values_are_422(world: World) -> None:
    api = world.as_("business_a")
    for params, field in (
        ({"due": "yesterday"}, "due"),
        ({"state": "closed"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"assignee": "someone"}, "assignee"),
    ):
        response = api.get("/api/reminders", query_string=params)
        assert response.status_code == 422, (params, response.json)
        assert field in [f["field"] for f in response.json["fields"]]


def test_assignee_me_and_keyset_pages(world: World, lead_a: int) -> None:
    api = world.as_("business_a")
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    base = future(hours=1)
    mine = [
        api.post(f"/api/leads/{lead_a}/reminders", {"due_at": iso(base + timedelta(minutes=i))}).json["id"]
        for i in range(5)
    ]
    everyone = api.post(
        f"/api/leads/{lead_a}/reminders",
        {"due_at": iso(base + timedelta(minutes=10)), "assignee_id": colleague},
    ).json["id"]
    api.patch(f"/api/leads/{lead_a}/reminders/{everyone}", {"assignee_id": None})
    theirs = api.post(
        f"/api/leads/{lead_a}/reminders",
        {"due_at": iso(base + timedelta(minutes=11)), "assignee_id": colleague},
    ).json["id"]
    # No assignee of its own, on a lead the colleague has: the colleague's, not mine.
    colleagues_lead = make_lead(world.business_a, phone="050-765-4321", assignee=colleague)
    follows_the_lead = api.post(
        f"/api/leads/{colleagues_lead}/reminders", {"due_at": iso(base + timedelta(minutes=12))}
    ).json["id"]

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"assignee": "me", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/reminders", query_string=params).json
        seen += [r["id"] for r in page["items"]]
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*mine, everyone]
    assert theirs not in seen and follows_the_lead not in seen
    assert page["items"][-1]["lead"] == {"id": lead_a, "full_name": "דנה כהן", "phone": "+972502345678"}


def test_the_listing_reads_an_index(world: World) -> None:
    """The due-and-unfired sweep and the tenant listing use their indexes (SQLite and PostgreSQL)."""
    engine = get_engine()
    sweep = "SELECT id FROM reminders WHERE due_at <= :now AND fired_at IS NULL AND done_at IS NULL"
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1])
                for row in connection.execute(text("EXPLAIN QUERY PLAN " + sweep), {"now": "2030-01-01"})
            )
            assert "ix_reminders_due_unfired" in plan, plan
        else:
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(
                row[0]
                for row in connection.execute(
                    text("EXPLAIN " + sweep), {"now": datetime(2030, 1, 1, tzinfo=UTC)}
                )
            )
            assert "ix_reminders_due_unfired" in plan, plan
