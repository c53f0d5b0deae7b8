"""The role x route matrix of require_api_auth: every /api route, every kind of caller."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import World, error_of

ROLES = ("anonymous", "business_a", "business_b", "manager", "admin", "admin_as_a", "admin_expired_as_a")


@dataclass(frozen=True)
class Route:
    """One row of the matrix. `url` may name {a} (business A), {user} (a user of B) and whatever a
    domain's matrix module returns from fixtures(world)."""

    method: str
    url: str
    body: Any = None
    kind: str = "business"  # "admin" | "business" | "business_or_platform_read" | "user"
    expect: dict[str, Any] = field(default_factory=dict)  # per-role overrides


ADMIN = {
    "anonymous": (401, "no_session"),
    "business_a": (403, "role_mismatch"),
    "business_b": (403, "role_mismatch"),
    "manager": "ok",
    "admin": "ok",
    "admin_as_a": "ok",
    "admin_expired_as_a": "ok",
}
# An expired impersonation is a plain admin again: business routes say no_tenant (and why).
BUSINESS = {
    "anonymous": (401, "no_session"),
    "business_a": "ok",
    "business_b": "ok",
    "manager": (403, "no_tenant"),
    "admin": (403, "no_tenant"),
    "admin_as_a": "ok",
    "admin_expired_as_a": (403, "no_tenant"),
}
# The owner's exception for leads: platform staff read every business's leads without impersonating.
BUSINESS_OR_PLATFORM_READ = {**BUSINESS, "manager": "ok", "admin": "ok", "admin_expired_as_a": "ok"}
USER = {**{role: "ok" for role in ROLES}, "anonymous": (401, "no_session")}
KINDS = {
    "admin": ADMIN,
    "business": BUSINESS,
    "business_or_platform_read": BUSINESS_OR_PLATFORM_READ,
    "user": USER,
}

ROUTES: list[Route] = [
    Route("GET", "/api/auth/me", kind="user"),
    Route("GET", "/api/admin/businesses", kind="admin"),
    Route("POST", "/api/admin/businesses", {"name": "חדש"}, kind="admin"),
    Route("GET", "/api/admin/businesses/{a}", kind="admin"),
    Route("PATCH", "/api/admin/businesses/{a}", {"name": "שם חדש"}, kind="admin"),
    Route("DELETE", "/api/admin/businesses/{a}", kind="admin"),
    Route("POST", "/api/admin/businesses/{a}/impersonate", {"reason": "support ticket 12"}, kind="admin"),
    Route("POST", "/api/admin/impersonate/exit", kind="admin"),
    Route("GET", "/api/admin/users", kind="admin"),
    Route(
        "POST",
        "/api/admin/users",
        {"email": "new@b-biz.co.il", "role": "business", "business_id": "{b}"},
        kind="admin",
    ),
    Route("GET", "/api/admin/users/{user}", kind="admin"),
    Route("PATCH", "/api/admin/users/{user}", {"full_name": "New Name"}, kind="admin"),
    Route("DELETE", "/api/admin/users/{user}", kind="admin"),
    Route("POST", "/api/admin/users/{user}/reset-password", {}, kind="admin"),
    Route("GET", "/api/admin/audit", kind="admin"),
    Route("GET", "/api/business/current"),
    Route("GET", "/api/business/current/prompt"),
    Route("PUT", "/api/business/current/prompt", {"calls_prompt": "שלום", "whatsapp_prompt": "היי"}),
    Route("GET", "/api/business/current/prompt/history"),
]


def _domain_modules() -> list[Any]:
    """tests/<domain>/matrix.py modules add their routes (ROUTES) and fixtures(world)."""
    modules = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg and (Path(__file__).parent / info.name / "matrix.py").exists():
            modules.append(importlib.import_module(f"tests.{info.name}.matrix"))
    return modules


DOMAIN_MODULES = _domain_modules()
ALL_ROUTES: list[Route] = ROUTES + [r for m in DOMAIN_MODULES for r in m.ROUTES]
WRITE_ROUTES = [r for r in ALL_ROUTES if r.method != "GET"]


def url_values(world: World) -> dict[str, Any]:
    values: dict[str, Any] = {"a": world.business_a, "b": world.business_b, "user": world.user_b_id}
    for module in DOMAIN_MODULES:
        if hasattr(module, "fixtures"):
            values.update(module.fixtures(world))
    return values


def fill(template: Any, values: dict[str, Any]) -> Any:
    """Format {names} in a URL or in a JSON body's strings ("{b}" alone becomes the value itself)."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format(**values)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def _cases() -> list[Any]:
    cases = []
    for route in ALL_ROUTES:
        for role in ROLES:
            expected = route.expect.get(role, KINDS[route.kind][role])
            cases.append(pytest.param(role, route, expected, id=f"{role}-{route.method}-{route.url}"))
    return cases


@pytest.mark.parametrize(("role", "route", "expected"), _cases())
def test_matrix(world: World, role: str, route: Route, expected: Any) -> None:
    values = url_values(world)
    api = world.as_(role)
    url, body = fill(route.url, values), fill(route.body, values)
    response = api.get(url) if route.method == "GET" else api.write(route.method, url, body)
    if expected == "ok":
        assert response.status_code in (200, 201, 202, 204), response.get_json(silent=True)
    else:
        assert error_of(response) == expected, response.get_json(silent=True)
        assert response.json["error"] and response.json["message"]


def test_matrix_covers_every_api_route(app: Flask) -> None:
    covered = {(r.method, re.sub(r"\{[a-z_]+\}", "<id>", r.url.split("?")[0])) for r in ALL_ROUTES}
    public = {"/api/auth/login", "/api/auth/logout", "/api/auth/csrf", "/api/openapi.json"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in public:
            continue
        path = re.sub(r"<[^>]+>", "<id>", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in covered, f"{method} {rule.rule} is missing from the guard matrix"


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=lambda r: f"{r.method}-{r.url}")
def test_options_is_204_for_anyone_without_csrf(world: World, route: Route) -> None:
    api = world.client()  # anonymous, no token at all
    response = api.options(fill(route.url, url_values(world)))
    assert response.status_code == 204
    assert route.method in response.headers["Allow"]


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
