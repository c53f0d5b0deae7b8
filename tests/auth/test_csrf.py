"""SeaSurf is the only CSRF mechanism: token cookie, header, the exact exempt list, JSON refusals."""

from __future__ import annotations

import pytest
from flask import Flask

from server.app import create_app
from server.settings import AppEnv
from tests.conftest import PASSWORD, TEST_SECRET, Api, World, error_of, make_settings
from tests.test_guard_matrix import WRITE_ROUTES, Route, fill, url_values


def _set_cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))


def test_csrf_endpoint_sets_a_readable_cookie_and_returns_the_token(world: World) -> None:
    api = world.client()
    response = api.client.get("/api/auth/csrf")
    token = response.json["csrfToken"]
    cookie = _set_cookie(response, "XSRF-TOKEN")
    assert cookie.startswith(f"XSRF-TOKEN={token};")
    assert "HttpOnly" not in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development on http://localhost


@pytest.mark.parametrize(("env", "samesite"), [(AppEnv.preview, "None"), (AppEnv.production, "Lax")])
def test_cookie_flags_per_environment(database_url: str, env: AppEnv, samesite: str, world: World) -> None:
    other: Flask = create_app(make_settings(database_url, app_env=env, secret_key=TEST_SECRET), TESTING=True)
    client = Api(other.test_client())
    response = client.login("owner@a-biz.co.il")
    session_cookie = _set_cookie(response, "crm_session")
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie
    assert f"SameSite={samesite}" in session_cookie
    csrf_cookie = _set_cookie(client.client.get("/api/auth/csrf", base_url="https://localhost"), "XSRF-TOKEN")
    assert "Secure" in csrf_cookie and f"SameSite={samesite}" in csrf_cookie
    assert "HttpOnly" not in csrf_cookie


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=lambda r: f"{r.method}-{r.url}")
def test_every_write_without_the_header_is_refused(world: World, route: Route) -> None:
    values = url_values(world)
    api = world.as_("admin_as_a")
    method, url, body = route.method, fill(route.url, values), fill(route.body, values)
    assert error_of(api.write(method, url, body, csrf=False)) == (403, "csrf_failed")
    assert error_of(api.write(method, url, body, csrf="0" * 64)) == (403, "csrf_failed")
    other = world.as_("admin")  # a valid token, but of another session
    assert error_of(api.write(method, url, body, csrf=other.token or "")) == (403, "csrf_failed")


def test_csrf_refusal_explains_the_fix(world: World) -> None:
    api = world.as_("admin")
    body = api.post(f"/api/admin/businesses/{world.business_a}/impersonate", csrf=False).json
    assert body["error"] == "forbidden" and body["reason"] == "csrf_failed"
    assert "X-CSRFToken" in body["message"]


def test_exempt_routes_work_without_a_token(world: World) -> None:
    api = world.client()
    response = api.client.post("/api/auth/login", json={"email": "owner@a-biz.co.il", "password": PASSWORD})
    assert response.status_code == 200
    assert api.client.post("/api/auth/logout").status_code == 200
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        assert api.client.get(path).status_code == 200


def test_impersonate_and_prompt_are_not_exempt(world: World) -> None:
    api = world.as_("admin")
    assert error_of(api.post(f"/api/admin/businesses/{world.business_a}/impersonate", csrf=False)) == (
        403,
        "csrf_failed",
    )
    assert api.post(f"/api/admin/businesses/{world.business_a}/impersonate").status_code == 200
    body = {"calls_prompt": "x", "whatsapp_prompt": "y"}
    assert error_of(api.put("/api/business/current/prompt", body, csrf=False)) == (403, "csrf_failed")
    assert api.put("/api/business/current/prompt", body).status_code == 200
