"""The role x route matrix of require_api_auth: every /api route, every kind of caller."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import World, error_of

ROLES = ("anonymous", "business_a", "business_b", "manager", "admin", "admin_as_a")

# (method, url template, body). {a} is business A's id, {user} a business user of B.
ADMIN_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/admin/businesses", None),
    ("POST", "/api/admin/businesses", {"name": "חדש"}),
    ("GET", "/api/admin/businesses/{a}", None),
    ("PATCH", "/api/admin/businesses/{a}", {"name": "שם חדש"}),
    ("DELETE", "/api/admin/businesses/{a}", None),
    ("POST", "/api/admin/businesses/{a}/impersonate", {"reason": "support ticket 12"}),
    ("POST", "/api/admin/impersonate/exit", None),
    ("GET", "/api/admin/users", None),
    ("POST", "/api/admin/users", {"email": "new@b-biz.co.il", "role": "business", "business_id": 2}),
    ("GET", "/api/admin/users/{user}", None),
    ("PATCH", "/api/admin/users/{user}", {"full_name": "New Name"}),
    ("DELETE", "/api/admin/users/{user}", None),
    ("POST", "/api/admin/users/{user}/reset-password", {}),
    ("GET", "/api/admin/audit", None),
]
BUSINESS_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/business/current", None),
    ("GET", "/api/business/current/prompt", None),
    ("PUT", "/api/business/current/prompt", {"calls_prompt": "שלום", "whatsapp_prompt": "היי"}),
    ("GET", "/api/business/current/prompt/history", None),
]
WRITE_ROUTES = [r for r in ADMIN_ROUTES + BUSINESS_ROUTES if r[0] != "GET"]

ADMIN_EXPECT = {
    "anonymous": (401, "no_session"),
    "business_a": (403, "role_mismatch"),
    "business_b": (403, "role_mismatch"),
    "manager": "ok",
    "admin": "ok",
    "admin_as_a": "ok",
}
BUSINESS_EXPECT = {
    "anonymous": (401, "no_session"),
    "business_a": "ok",
    "business_b": "ok",
    "manager": (403, "no_tenant"),
    "admin": (403, "no_tenant"),
    "admin_as_a": "ok",
}


def _cases() -> list[Any]:
    cases = []
    for routes, expect in ((ADMIN_ROUTES, ADMIN_EXPECT), (BUSINESS_ROUTES, BUSINESS_EXPECT)):
        for method, url, body in routes:
            for role in ROLES:
                cases.append(pytest.param(role, method, url, body, expect[role], id=f"{role}-{method}-{url}"))
    return cases


@pytest.mark.parametrize(("role", "method", "url", "body", "expected"), _cases())
def test_matrix(world: World, role: str, method: str, url: str, body: Any, expected: Any) -> None:
    api = world.as_(role)
    url = url.format(a=world.business_a, user=world.user_b_id)
    if body and "business_id" in body:
        body = {**body, "business_id": world.business_b}
    response = api.get(url) if method == "GET" else api.write(method, url, body)
    if expected == "ok":
        assert response.status_code in (200, 201), response.json
    else:
        assert error_of(response) == expected, response.json
        assert response.json["error"] in ("unauthorized", "forbidden")
        assert response.json["message"]


def test_matrix_covers_every_api_route(app: Flask) -> None:
    covered = {
        (m, u.replace("{a}", "<int:business_id>").replace("{user}", "<int:user_id>"))
        for m, u, _ in ADMIN_ROUTES + BUSINESS_ROUTES
    }
    public = {"/api/auth/login", "/api/auth/logout", "/api/auth/csrf", "/api/auth/me", "/api/openapi.json"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in public:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, rule.rule) in covered, f"{method} {rule.rule} is missing from the guard matrix"


@pytest.mark.parametrize(("method", "url", "body"), WRITE_ROUTES)
def test_options_is_204_for_anyone_without_csrf(world: World, method: str, url: str, body: Any) -> None:
    api = world.client()  # anonymous, no token at all
    response = api.options(url.format(a=world.business_a, user=world.user_b_id))
    assert response.status_code == 204
    assert method in response.headers["Allow"]


def test_manager_cannot_touch_platform_users(world: World) -> None:
    manager = world.as_("manager")
    assert error_of(manager.post("/api/admin/users", {"email": "boss@platform.co.il", "role": "admin"})) == (
        403,
        "role_mismatch",
    )
    assert error_of(manager.patch(f"/api/admin/users/{world.user_a_id}", {"role": "manager"})) == (
        403,
        "role_mismatch",
    )
    assert error_of(manager.delete(f"/api/admin/users/{world.admin_id}")) == (403, "role_mismatch")
    assert error_of(manager.post(f"/api/admin/users/{world.admin_id}/reset-password", {})) == (
        403,
        "role_mismatch",
    )
    # ...but manages business users.
    created = manager.post(
        "/api/admin/users",
        {"email": "staff@a-biz.co.il", "role": "business", "business_id": world.business_a},
    )
    assert created.status_code == 201
    assert created.json["generated_password"]


def test_a_business_user_calling_impersonate_is_role_mismatch(world: World) -> None:
    api = world.as_("business_a")
    assert error_of(api.post(f"/api/admin/businesses/{world.business_b}/impersonate")) == (
        403,
        "role_mismatch",
    )
    assert api.get("/api/auth/me").json["impersonating"] is False


def test_tenants_never_see_each_others_prompts(world: World) -> None:
    a, b = world.as_("business_a"), world.as_("business_b")
    assert (
        a.put(
            "/api/business/current/prompt", {"calls_prompt": "A-calls", "whatsapp_prompt": "A-wa"}
        ).status_code
        == 200
    )
    b_view = b.get("/api/business/current/prompt").json
    assert b_view["business_id"] == world.business_b
    assert b_view["calls_prompt"] == "" and b_view["version"] == 0
    assert b.get("/api/business/current/prompt/history").json["items"] == []
    assert b.get("/api/business/current").json["id"] == world.business_b
