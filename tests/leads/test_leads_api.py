"""The leads API: create, duplicates, validation, pipeline, timeline, search, filters, paging."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, World, error_of


def _create(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/leads", fields)
    assert response.status_code == 201, response.json
    return response.json


def test_create_normalises_the_phone_and_starts_the_timeline(world: World) -> None:
    api = world.as_("business_a")
    lead = _create(api, full_name="דוד כהן", phone="050-234-5678", tags=["VIP", "VIP", " חתונה "])
    assert lead["phone"] == "+972502345678" and lead["phone_valid"] is True
    assert lead["status"] == "new" and lead["source"] == "manual"
    assert lead["tags"] == ["VIP", "חתונה"] and lead["warnings"] == []
    detail = api.get(f"/api/leads/{lead['id']}").json
    assert [e["kind"] for e in detail["timeline"]] == ["created"]
    assert detail["timeline"][0]["actor"]["id"] == world.user_a_id


def test_duplicate_phone_is_409_with_the_existing_id_in_any_form(world: World) -> None:
    api = world.as_("business_a")
    first = _create(api, phone="0502345678")
    for form in ("+972 50-234-5678", "972502345678", "whatsapp:+972502345678"):
        response = api.post("/api/leads", {"phone": form})
        assert error_of(response) == (409, "duplicate_phone")
        assert response.json["lead_id"] == first["id"]
    # Another business may have the same person as its own lead.
    assert world.as_("business_b").post("/api/leads", {"phone": "050-234-5678"}).status_code == 201


def test_possible_but_invalid_phone_is_accepted_with_a_warning(world: World) -> None:
    lead = _create(world.as_("business_a"), phone="059-000-0000")
    assert lead["phone_valid"] is False
    assert lead["warnings"][0]["field"] == "phone"


def test_bad_input_is_named_and_nothing_is_stored(world: World) -> None:
    api = world.as_("business_a")
    cases = [
        ({"phone": "12"}, "phone"),
        ({"full_name": "x"}, "phone"),  # neither phone nor email
        ({"phone": "0502345678", "email": "not-mail"}, "email"),
        ({"phone": "0502345678", "status": "archived"}, "status"),
        ({"phone": "0502345678", "source": "fax"}, "source"),
        ({"phone": "0502345678", "assignee_id": world.user_b_id}, "assignee_id"),
        ({"phone": "0502345678", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = api.post("/api/leads", body)
        assert response.status_code == 422, (body, response.json)
        assert field in [f["field"] for f in response.json["fields"]], (body, response.json)
    assert api.get("/api/leads").json["items"] == []


def test_status_moves_are_recorded_with_who_and_when(world: World) -> None:
    api = world.as_("business_a")
    lead = _create(api, phone="0502345678")
    moved = api.patch(f"/api/leads/{lead['id']}", {"status": "qualified"}).json
    assert moved["status"] == "qualified" and moved["status_changed_by_id"] == world.user_a_id
    timeline = api.get(f"/api/leads/{lead['id']}").json["timeline"]
    assert timeline[-1]["kind"] == "status_changed"
    assert timeline[-1]["data"] == {"from": "new", "to": "qualified"}
    assert error_of(api.patch(f"/api/leads/{lead['id']}", {"status": "nope"}))[0] == 422


def test_update_fields_assignee_and_phone_conflicts(world: World) -> None:
    api = world.as_("business_a")
    one = _create(api, phone="0502345678")
    two = _create(api, phone="0502345679")
    response = api.patch(f"/api/leads/{two['id']}", {"phone": "+972502345678"})
    assert error_of(response) == (409, "duplicate_phone") and response.json["lead_id"] == one["id"]
    updated = api.patch(
        f"/api/leads/{one['id']}", {"full_name": "שרה לוי", "assignee_id": world.user_a_id, "tags": ["חם"]}
    ).json
    assert updated["full_name"] == "שרה לוי" and updated["assignee_id"] == world.user_a_id
    assert updated["tags"] == ["חם"]
    event = api.get(f"/api/leads/{one['id']}").json["timeline"][-1]
    assert event["kind"] == "updated" and set(event["data"]["changes"]) == {
        "full_name",
        "assignee_id",
        "tags",
    }


def test_a_deleted_lead_gives_its_phone_up_to_a_live_one(world: World) -> None:
    api = world.as_("business_a")
    gone = api.post("/api/leads", {"full_name": "ישן", "phone": "0502345678"}).json
    api.delete(f"/api/leads/{gone['id']}")
    live = api.post("/api/leads", {"full_name": "חי", "phone": "0521112233"}).json
    moved = api.patch(f"/api/leads/{live['id']}", {"phone": "050-234-5678"})
    assert moved.status_code == 200 and moved.json["phone"] == "+972502345678"
    # The number is the live lead's now: creating it again is a duplicate of the live one.
    again = api.post("/api/leads", {"phone": "0502345678"})
    assert again.status_code == 409 and again.json["lead_id"] == live["id"]


def test_notes_go_on_the_timeline_and_are_searchable(world: World) -> None:
    api = world.as_("business_a")
    lead = _create(api, full_name="יעל", phone="0502345678")
    note = api.post(f"/api/leads/{lead['id']}/notes", {"text": "מעוניינת בהצעת מחיר לחתונה"})
    assert note.status_code == 201 and note.json["kind"] == "note_added"
    found = api.get("/api/leads?q=חתונה").json["items"]
    assert [lead_["id"] for lead_ in found] == [lead["id"]]
    assert error_of(api.post(f"/api/leads/{lead['id']}/notes", {"text": ""}))[0] == 422


def test_soft_delete_hides_the_lead_and_is_audited(world: World) -> None:
    api = world.as_("business_a")
    lead = _create(api, full_name="למחיקה", phone="0502345678")
    assert api.delete(f"/api/leads/{lead['id']}").status_code == 200
    assert error_of(api.get(f"/api/leads/{lead['id']}")) == (404, "lead_not_found")
    assert api.get("/api/leads").json["items"] == []
    audit = world.as_("admin").get("/api/admin/audit?action=lead.delete").json["items"]
    assert audit[0]["target_id"] == str(lead["id"]) and audit[0]["actor_id"] == world.user_a_id
    # The same phone again brings the lead back instead of doubling it.
    again = _create(api, phone="+972502345678", full_name="חזר")
    assert again["id"] == lead["id"]


def test_search_finds_partial_hebrew_names_phones_and_emails(world: World) -> None:
    api = world.as_("business_a")
    david = _create(api, full_name="דוד בן-חיים", phone="0502345678", email="david@mail.co.il")
    _create(api, full_name="רחל", phone="0521112233")
    for q in ("בן-ח", "דוד", "חיים", "050-234", "2345678", "+97250234", "DAVID@MAIL"):
        items = api.get(f"/api/leads?q={q}").json["items"]
        assert [i["id"] for i in items] == [david["id"]], q
    assert api.get("/api/leads?q=%25").json["items"] == []  # LIKE wildcards are literal


def test_filters(world: World) -> None:
    api = world.as_("business_a")
    a = _create(api, phone="0501000001", tags=["vip"], status="contacted")
    b = _create(api, phone="0501000002", source="api", assignee_id=world.user_a_id)
    assert [i["id"] for i in api.get("/api/leads?status=contacted").json["items"]] == [a["id"]]
    assert {i["id"] for i in api.get("/api/leads?status=contacted&status=new").json["items"]} == {
        a["id"],
        b["id"],
    }
    assert [i["id"] for i in api.get("/api/leads?source=api").json["items"]] == [b["id"]]
    assert [i["id"] for i in api.get("/api/leads?tag=vip").json["items"]] == [a["id"]]
    assert [i["id"] for i in api.get(f"/api/leads?assignee_id={world.user_a_id}").json["items"]] == [b["id"]]
    assert [i["id"] for i in api.get("/api/leads?unassigned=true").json["items"]] == [a["id"]]
    assert api.get("/api/leads?created_from=2999-01-01T00:00:00Z").json["items"] == []
    assert error_of(api.get("/api/leads?source=fax"))[0] == 422


def test_keyset_pages_walk_everything_once(world: World) -> None:
    api = world.as_("business_a")
    ids = {_create(api, phone=f"05010000{i:02d}")["id"] for i in range(23)}
    seen: list[int] = []
    cursor = None
    while True:
        url = "/api/leads?limit=10" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert error_of(api.get("/api/leads?cursor=garbage"))[0] == 422
    oldest_first = api.get("/api/leads?sort=created_at&limit=3").json["items"]
    assert [i["id"] for i in oldest_first] == sorted(ids)[:3]


def test_tenants_never_see_each_other(world: World) -> None:
    a, b = world.as_("business_a"), world.as_("business_b")
    lead = _create(a, full_name="סוד של א", phone="0502345678")
    assert b.get("/api/leads").json["items"] == []
    assert b.get("/api/leads?q=סוד").json["items"] == []
    assert error_of(b.get(f"/api/leads/{lead['id']}")) == (404, "lead_not_found")
    assert error_of(b.patch(f"/api/leads/{lead['id']}", {"status": "won"})) == (404, "lead_not_found")
    assert b.post("/api/leads/bulk-status", {"ids": [lead["id"]], "status": "won"}).json == {"updated": 0}
    assert error_of(b.get(f"/api/leads?business_id={world.business_a}")) == (403, "scope_fail")
    assert "סוד" not in b.get("/api/leads/export.csv").get_data(as_text=True)
    assert a.get(f"/api/leads/{lead['id']}").json["status"] == "new"


def test_admin_reads_all_businesses_and_filters_by_one(world: World) -> None:
    _create(world.as_("business_a"), full_name="של א", phone="0502345678")
    _create(world.as_("business_b"), full_name="של ב", phone="0502345679")
    admin = world.as_("admin")
    assert {i["full_name"] for i in admin.get("/api/leads").json["items"]} == {"של א", "של ב"}
    only_b = admin.get(f"/api/leads?business_id={world.business_b}").json["items"]
    assert [i["full_name"] for i in only_b] == ["של ב"]
    # ...but writing needs a tenant: impersonate first.
    assert error_of(admin.post("/api/leads", {"phone": "0502345670"})) == (403, "no_tenant")
    impersonating = world.as_("admin_as_a")
    assert [i["full_name"] for i in impersonating.get("/api/leads").json["items"]] == ["של א"]


def test_pipeline_rename_reorder_and_protect_used_statuses(world: World) -> None:
    api = world.as_("business_a")
    statuses = api.get("/api/leads/statuses").json["statuses"]
    assert [s["key"] for s in statuses] == ["new", "contacted", "qualified", "won", "lost"]
    lead = _create(api, phone="0502345678", status="qualified")
    new_order = [
        {"key": "new", "label": "פנייה חדשה"},
        {"key": "qualified", "label": "רלוונטי"},
        {"key": "contacted", "label": "שוחחנו"},
        {"key": "meeting", "label": "פגישה"},
        {"key": "won", "label": "לקוח", "kind": "won"},
        {"key": "lost", "label": "לא רלוונטי", "kind": "lost"},
    ]
    saved = api.put("/api/leads/statuses", {"statuses": new_order}).json["statuses"]
    assert [s["key"] for s in saved] == ["new", "qualified", "contacted", "meeting", "won", "lost"]
    assert saved[1]["label"] == "רלוונטי"
    assert api.patch(f"/api/leads/{lead['id']}", {"status": "meeting"}).status_code == 200
    without_meeting = [s for s in new_order if s["key"] != "meeting"]
    assert error_of(api.put("/api/leads/statuses", {"statuses": without_meeting})) == (409, "status_in_use")
    # Business B's pipeline is untouched.
    assert len(world.as_("business_b").get("/api/leads/statuses").json["statuses"]) == 5


def test_bulk_status(world: World) -> None:
    api = world.as_("business_a")
    ids = [_create(api, phone=f"05020000{i:02d}")["id"] for i in range(3)]
    assert api.post("/api/leads/bulk-status", {"ids": ids, "status": "contacted"}).json == {"updated": 3}
    assert {i["status"] for i in api.get("/api/leads").json["items"]} == {"contacted"}


def test_impersonated_lead_writes_are_audited(world: World) -> None:
    admin = world.as_("admin_as_a")
    lead = _create(admin, phone="0502345678")
    rows = world.as_("admin").get("/api/admin/audit?action=api.write").json["items"]
    assert rows and rows[0]["actor_id"] == world.admin_id and rows[0]["impersonation_id"]
    assert rows[0]["details"]["path"] == "/api/leads"
    assert lead["business_id"] == world.business_a
