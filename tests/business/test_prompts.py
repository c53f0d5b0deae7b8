"""GET/PUT /api/business/current/prompt and its history."""

from __future__ import annotations

from tests.conftest import World, error_of


def test_put_returns_the_updated_object_and_get_reads_it_back(world: World) -> None:
    api = world.as_("business_a")
    body = {"calls_prompt": "ענה בנימוס", "whatsapp_prompt": "כתוב קצר"}
    saved = api.put("/api/business/current/prompt", body)
    assert saved.status_code == 200
    assert saved.json["calls_prompt"] == "ענה בנימוס" and saved.json["whatsapp_prompt"] == "כתוב קצר"
    assert saved.json["updated_by"]["id"] == world.user_a_id
    assert saved.json["updated_at"] and saved.json["version"] == 1
    assert api.get("/api/business/current/prompt").json == saved.json


def test_body_contract_is_exact(world: World) -> None:
    api = world.as_("business_a")
    api.put("/api/business/current/prompt", {"calls_prompt": "keep", "whatsapp_prompt": "keep"})
    cases = [
        ({"calls_prompt": "x"}, ["whatsapp_prompt"]),
        ({"calls_prompt": "x", "whatsapp_prompt": "y", "tone": "z"}, ["tone"]),
        ({"calls_prompt": 5, "whatsapp_prompt": "y"}, ["calls_prompt"]),
        ({"calls_prompt": "x" * 20_001, "whatsapp_prompt": "y"}, ["calls_prompt"]),
        ({"prompt": {"calls": "x"}}, ["calls_prompt", "whatsapp_prompt", "prompt"]),
    ]
    for body, fields in cases:
        response = api.put("/api/business/current/prompt", body)
        assert response.status_code == 422, body
        assert sorted(f["field"] for f in response.json["fields"]) == sorted(fields)
        assert response.json["error"] == "validation_error" and response.json["reason"]
    assert error_of(api.put("/api/business/current/prompt", [1, 2]))[0] == 422
    # nothing stored was lost
    assert api.get("/api/business/current/prompt").json["calls_prompt"] == "keep"


def test_twenty_thousand_characters_fit(world: World) -> None:
    api = world.as_("business_a")
    body = {"calls_prompt": "א" * 20_000, "whatsapp_prompt": ""}
    assert api.put("/api/business/current/prompt", body).status_code == 200


def test_history_lists_every_save_newest_first(world: World) -> None:
    api = world.as_("business_a")
    for i in range(3):
        api.put("/api/business/current/prompt", {"calls_prompt": f"v{i}", "whatsapp_prompt": "w"})
    admin = world.as_("admin_as_a")
    admin.put("/api/business/current/prompt", {"calls_prompt": "by admin", "whatsapp_prompt": "w"})
    items = api.get("/api/business/current/prompt/history").json["items"]
    assert [i["version"] for i in items] == [4, 3, 2, 1]
    assert items[0]["saved_by"]["id"] == world.admin_id and items[0]["impersonation_id"]
    assert items[1]["calls_prompt"] == "v2" and items[1]["impersonation_id"] is None
    older = api.get("/api/business/current/prompt/history?before_version=3&limit=1").json["items"]
    assert [i["version"] for i in older] == [2]
