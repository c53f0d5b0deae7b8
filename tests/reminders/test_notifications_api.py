"""GET /api/notifications, PATCH /api/notifications/<id>, POST /api/notifications/read-all."""

from __future__ import annotations

from datetime import timedelta

from server.reminders import firing
from tests.conftest import World, error_of, make_user
from tests.reminders.helpers import insert_due_reminder, make_lead, notifications_of


def _fire(business_id: int, lead_id: int, n: int, **kw: object) -> list[int]:
    """n due reminders, fired one after the other; returns the reminder ids in firing order."""
    ids = [
        insert_due_reminder(business_id, lead_id, ago=timedelta(minutes=n - i), text=f"תזכורת {i}", **kw)
        for i in range(n)
    ]
    for reminder_id in ids:
        assert firing.fire_due(reminder_id=reminder_id) == 1
    return ids


def test_a_user_sees_their_notifications_newest_first_with_an_unread_count(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    reminders = _fire(world.business_a, lead, 3, assignee_id=world.user_a_id)
    api = world.as_("business_a")
    body = api.get("/api/notifications").json
    assert body["unread_count"] == 3
    assert [n["reminder_id"] for n in body["items"]] == reminders[::-1]  # the last fired first
    items = body["items"]
    assert items == sorted(items, key=lambda n: (n["created_at"], n["id"]), reverse=True)
    first = items[0]
    assert (
        first["kind"] == "reminder_due" and first["lead_id"] == lead and first["user_id"] == world.user_a_id
    )
    assert first["read"] is False and first["read_at"] is None and first["title"] == "תזכורת: דנה כהן"


def test_mark_read_unread_filter_and_read_all(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    _fire(world.business_a, lead, 3, assignee_id=world.user_a_id)
    api = world.as_("business_a")
    ids = [n["id"] for n in api.get("/api/notifications").json["items"]]

    read = api.patch(f"/api/notifications/{ids[0]}", {"read": True})
    assert read.status_code == 200 and read.json["read"] is True and read.json["read_at"]
    unread = api.get("/api/notifications", query_string={"unread": "true"}).json
    assert [n["id"] for n in unread["items"]] == ids[1:] and unread["unread_count"] == 2
    assert [
        n["id"] for n in api.get("/api/notifications", query_string={"unread": "false"}).json["items"]
    ] == [ids[0]]
    assert api.patch(f"/api/notifications/{ids[0]}", {"read": False}).json["read"] is False

    done = api.post("/api/notifications/read-all")
    assert done.status_code == 200 and done.json == {"updated": 3, "unread_count": 0}
    assert api.post("/api/notifications/read-all").json == {"updated": 0, "unread_count": 0}
    assert api.get("/api/notifications", query_string={"unread": "true"}).json["items"] == []


def test_invalid_bodies_and_queries(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    _fire(world.business_a, lead, 1, assignee_id=world.user_a_id)
    api = world.as_("business_a")
    (notification,) = api.get("/api/notifications").json["items"]
    for body, field in (({}, "read"), ({"read": "maybe"}, "read"), ({"read": True, "seen": True}, "seen")):
        response = api.patch(f"/api/notifications/{notification['id']}", body)
        assert response.status_code == 422, response.json
        assert field in [f["field"] for f in response.json["fields"]]
    assert api.get("/api/notifications", query_string={"limit": "1000"}).status_code == 422
    assert error_of(api.patch("/api/notifications/999999", {"read": True})) == (404, "notification_not_found")


def test_pages_by_cursor(world: World) -> None:
    lead = make_lead(world.business_a, assignee=world.user_a_id)
    _fire(world.business_a, lead, 5, assignee_id=world.user_a_id)
    api = world.as_("business_a")
    everything = [n["id"] for n in api.get("/api/notifications").json["items"]]
    seen, cursor = [], None
    while True:
        page = api.get(
            "/api/notifications", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == everything and len(seen) == 5


def test_tenants_and_users_never_see_or_touch_each_others_notifications(world: World) -> None:
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    lead_a = make_lead(world.business_a)
    lead_b = make_lead(world.business_b, "054-111-2222", "ליד של ב")
    (for_a,) = _fire(world.business_a, lead_a, 1, assignee_id=world.user_a_id)
    (for_colleague,) = _fire(world.business_a, lead_a, 1, assignee_id=colleague)
    (for_b,) = _fire(world.business_b, lead_b, 1, assignee_id=world.user_b_id)
    (note_a,) = notifications_of(for_a)
    (note_colleague,) = notifications_of(for_colleague)
    (note_b,) = notifications_of(for_b)

    a, b = world.as_("business_a"), world.as_("business_b")
    assert [n["id"] for n in a.get("/api/notifications").json["items"]] == [note_a.id]
    assert [n["id"] for n in b.get("/api/notifications").json["items"]] == [note_b.id]
    assert b.get("/api/notifications").json["unread_count"] == 1

    assert error_of(b.patch(f"/api/notifications/{note_a.id}", {"read": True})) == (
        404,
        "notification_not_found",
    )
    assert error_of(a.patch(f"/api/notifications/{note_colleague.id}", {"read": True})) == (
        404,
        "notification_not_found",
    )
    assert b.post("/api/notifications/read-all").json["updated"] == 1  # only B's own
    assert a.get("/api/notifications").json["unread_count"] == 1
    assert notifications_of(for_colleague)[0].read_at is None
    assert notifications_of(for_a)[0].read_at is None


def test_an_impersonating_admin_sees_the_whole_business_and_may_mark_read(world: World) -> None:
    colleague = make_user("colleague@a-biz.co.il", "business", world.business_a)
    lead_a = make_lead(world.business_a)
    lead_b = make_lead(world.business_b, "054-111-2222", "ליד של ב")
    (everyone,) = _fire(world.business_a, lead_a, 1)  # no assignee: both users of A
    _fire(world.business_b, lead_b, 1)

    admin = world.as_("admin_as_a")
    body = admin.get("/api/notifications").json
    assert sorted(n["user_id"] for n in body["items"]) == sorted([world.user_a_id, colleague])
    assert body["unread_count"] == 2
    target = next(n for n in body["items"] if n["user_id"] == colleague)
    assert admin.patch(f"/api/notifications/{target['id']}", {"read": True}).status_code == 200
    assert admin.post("/api/notifications/read-all").json == {"updated": 1, "unread_count": 0}
    assert all(n.read_at is not None for n in notifications_of(everyone))
    # B's stayed untouched, and the writes made while impersonating are in the audit log.
    assert world.as_("business_b").get("/api/notifications").json["unread_count"] == 1
    audit = world.as_("admin").get("/api/admin/audit").json["items"]
    paths = [entry["details"].get("path") for entry in audit if entry["action"] == "api.write"]
    assert f"/api/notifications/{target['id']}" in paths and "/api/notifications/read-all" in paths
