"""Businesses and users under /api/admin."""

from __future__ import annotations

import pytest

from tests.conftest import World, error_of


def test_business_lifecycle(world: World) -> None:
    api = world.as_("admin")
    created = api.post(
        "/api/admin/businesses",
        {
            "name": "קליניקה",
            "voice_numbers": ["+972 3-555-0303", "03-555-0303"],
            "whatsapp_numbers": ["050-234-5678"],
        },
    )
    assert created.status_code == 201, created.json
    business = created.json
    assert business["voice_numbers"] == ["+97235550303"]
    assert business["whatsapp_numbers"] == ["+972502345678"]
    bid = business["id"]
    patched = api.patch(
        f"/api/admin/businesses/{bid}", {"voice_numbers": ["03-555-0404"], "name": "קליניקה 2"}
    ).json
    assert patched["voice_numbers"] == ["+97235550404"] and patched["name"] == "קליניקה 2"
    assert patched["whatsapp_numbers"] == ["+972502345678"]
    assert api.delete(f"/api/admin/businesses/{bid}").json["is_active"] is False
    assert api.patch(f"/api/admin/businesses/{bid}", {"is_active": True}).json["is_active"] is True


def test_business_list_search_and_pages(world: World) -> None:
    api = world.as_("admin")
    for i in range(7):
        api.post("/api/admin/businesses", {"name": f"חנות {i}"})
    page = api.get("/api/admin/businesses?q=חנות&page=2&page_size=5").json
    assert page["total"] == 7 and len(page["items"]) == 2 and page["page"] == 2
    by_number = api.get("/api/admin/businesses?q=5550101").json
    assert [b["id"] for b in by_number["items"]] == [world.business_a]
    assert api.get("/api/admin/businesses?active=false").json["total"] == 0


def test_number_owned_by_another_business_is_a_conflict(world: World) -> None:
    api = world.as_("admin")
    response = api.patch(f"/api/admin/businesses/{world.business_b}", {"voice_numbers": ["03-555-0101"]})
    assert error_of(response) == (409, "number_taken")
    assert response.json["numbers"] == ["+97235550101"]
    # nothing was lost
    assert api.get(f"/api/admin/businesses/{world.business_b}").json["voice_numbers"] == ["+97235550202"]


def test_invalid_numbers_are_named(world: World) -> None:
    api = world.as_("admin")
    response = api.post("/api/admin/businesses", {"name": "x", "voice_numbers": ["03-555-0505", "12"]})
    assert response.status_code == 422
    assert response.json["fields"][0]["field"] == "voice_numbers.1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "x", "timezone": "../../etc/passwd"}, "timezone"),
        ({"name": "x", "timezone": ""}, "timezone"),
    ],
)
def test_blank_names_and_unknown_time_zones_are_named(world: World, body: dict, field: str) -> None:  # type: ignore[type-arg]
    api = world.as_("admin")
    created = api.post("/api/admin/businesses", body)
    assert created.status_code == 422 and [f["field"] for f in created.json["fields"]] == [field]
    patched = api.patch(f"/api/admin/businesses/{world.business_a}", {field: body[field]})
    assert patched.status_code == 422 and [f["field"] for f in patched.json["fields"]] == [field]
    assert api.get(f"/api/admin/businesses/{world.business_a}").json["name"] == "מספרה א"


def test_names_are_stored_stripped(world: World) -> None:
    api = world.as_("admin")
    created = api.post("/api/admin/businesses", {"name": "  קפה  ", "timezone": "Europe/London"})
    assert created.status_code == 201 and created.json["name"] == "קפה"
    assert created.json["timezone"] == "Europe/London"


def test_unknown_business_is_404_json(world: World) -> None:
    api = world.as_("admin")
    assert error_of(api.get("/api/admin/businesses/424242")) == (404, "business_not_found")
    assert error_of(api.patch("/api/admin/businesses/424242", {"name": "x"})) == (404, "business_not_found")


def test_user_rules(world: World) -> None:
    api = world.as_("admin")
    assert error_of(api.post("/api/admin/users", {"email": "x@b-biz.co.il", "role": "business"})) == (
        422,
        "invalid_fields",
    )
    assert error_of(
        api.post(
            "/api/admin/users",
            {"email": "x@platform.co.il", "role": "manager", "business_id": world.business_a},
        )
    ) == (422, "invalid_fields")
    assert error_of(
        api.post(
            "/api/admin/users",
            {"email": "OWNER@A-BIZ.CO.IL", "role": "business", "business_id": world.business_a},
        )
    ) == (
        409,
        "email_taken",
    )
    assert error_of(api.post("/api/admin/users", {"email": "not-an-email", "role": "admin"}))[0] == 422
    created = api.post(
        "/api/admin/users",
        {
            "email": "Staff@A-biz.co.il",
            "role": "business",
            "business_id": world.business_a,
            "password": "long-enough-pw",
        },
    )
    assert created.status_code == 201 and created.json["email"] == "staff@a-biz.co.il"
    assert created.json["generated_password"] is None
    listed = api.get(f"/api/admin/users?business_id={world.business_a}").json
    assert {u["email"] for u in listed["items"]} == {"owner@a-biz.co.il", "staff@a-biz.co.il"}


def test_admin_cannot_lock_the_platform_out(world: World) -> None:
    api = world.as_("admin")
    assert error_of(api.delete(f"/api/admin/users/{world.admin_id}")) == (409, "cannot_change_self")
    assert error_of(api.patch(f"/api/admin/users/{world.admin_id}", {"role": "manager"})) == (
        409,
        "cannot_change_self",
    )


def test_role_change_signs_the_user_out(world: World) -> None:
    manager = world.as_("manager")
    admin = world.as_("admin")
    assert admin.patch(f"/api/admin/users/{world.manager_id}", {"role": "admin"}).status_code == 200
    assert error_of(manager.get("/api/auth/me")) == (401, "no_session")


def test_audit_filters(world: World) -> None:
    api = world.as_("admin")
    api.post("/api/admin/businesses", {"name": "חדש"})
    rows = api.get("/api/admin/audit?action=business.&limit=2").json
    assert all(r["action"].startswith("business.") for r in rows["items"])
    assert len(rows["items"]) == 2 and rows["next_before_id"] == rows["items"][-1]["id"]
    older = api.get(f"/api/admin/audit?action=business.&before_id={rows['next_before_id']}").json["items"]
    assert all(r["id"] < rows["next_before_id"] for r in older)
    assert error_of(api.get("/api/admin/audit?limit=0"))[0] == 422
