"""POST /api/auth/login, logout, me; sessions end when they should."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from server.auth.models import UserSession
from server.db import db_session, utcnow
from tests.conftest import PASSWORD, World, error_of


def test_login_is_case_insensitive_and_returns_who_i_am(world: World) -> None:
    api = world.client()
    response = api.login("Owner@A-biz.co.il")
    assert response.status_code == 200
    body = response.json
    assert body["role"] == "business"
    assert body["tenant_id"] == world.business_a
    assert body["tenant"]["name"] == "מספרה א"
    assert body["impersonating"] is False
    me = api.get("/api/auth/me").json
    assert me["user"]["email"] == "owner@a-biz.co.il"


def test_wrong_password_and_unknown_email_answer_the_same(world: World) -> None:
    api = world.client()
    wrong_password = api.login("owner@a-biz.co.il", "not-the-password")
    unknown = api.login("nobody@a-biz.co.il", "not-the-password")
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json == unknown.json
    assert wrong_password.json["reason"] == "invalid_credentials"


def test_deactivated_user_cannot_log_in(world: World) -> None:
    admin = world.as_("admin")
    assert admin.delete(f"/api/admin/users/{world.user_a_id}").status_code == 200
    assert error_of(world.client().login("owner@a-biz.co.il")) == (401, "invalid_credentials")


def test_user_of_a_deactivated_business_is_told_why(world: World) -> None:
    admin = world.as_("admin")
    assert admin.delete(f"/api/admin/businesses/{world.business_a}").status_code == 200
    assert error_of(world.client().login("owner@a-biz.co.il")) == (403, "business_inactive")


def test_login_body_is_validated(world: World) -> None:
    api = world.client()
    response = api.client.post("/api/auth/login", json={"email": "owner@a-biz.co.il"})
    assert response.status_code == 422
    assert [f["field"] for f in response.json["fields"]] == ["password"]
    response = api.client.post(
        "/api/auth/login", data="email=x", content_type="application/x-www-form-urlencoded"
    )
    assert error_of(response) == (415, "unsupported_media_type")


def test_session_is_regenerated_at_login(world: World) -> None:
    api = world.client()
    before = api.refresh_csrf()
    assert api.login("owner@a-biz.co.il").status_code == 200
    # The token handed out before login belongs to the old session and no longer works.
    response = api.put(
        "/api/business/current/prompt", {"calls_prompt": "a", "whatsapp_prompt": "b"}, csrf=before
    )
    assert error_of(response) == (403, "csrf_failed")
    assert api.token != before


def test_logout_kills_the_cookie_even_if_replayed(world: World) -> None:
    api = world.client()
    api.login("owner@a-biz.co.il")
    stolen = api.client.get_cookie("crm_session").value
    assert api.get("/api/business/current/prompt").status_code == 200
    assert api.logout().status_code == 200  # no CSRF needed: logout is exempt
    replay = world.client()
    replay.client.set_cookie("crm_session", stolen)
    assert error_of(replay.get("/api/business/current/prompt")) == (401, "no_session")
    assert error_of(replay.get("/api/auth/me")) == (401, "no_session")


def test_logging_in_again_ends_the_previous_session_of_this_browser(world: World) -> None:
    api = world.client()
    api.login("owner@a-biz.co.il")
    old = api.client.get_cookie("crm_session").value
    assert api.login("owner@b-biz.co.il").status_code == 200
    replay = world.client()
    replay.client.set_cookie("crm_session", old)
    assert error_of(replay.get("/api/auth/me")) == (401, "no_session")
    assert api.get("/api/auth/me").json["user"]["email"] == "owner@b-biz.co.il"


def test_logout_ends_only_this_session(world: World) -> None:
    laptop, phone = world.client(), world.client()
    laptop.login("owner@a-biz.co.il")
    phone.login("owner@a-biz.co.il")
    laptop.logout()
    assert phone.get("/api/auth/me").status_code == 200


def test_expired_session_is_refused(world: World, app) -> None:  # type: ignore[no-untyped-def]
    api = world.client()
    api.login("owner@a-biz.co.il")
    with app.app_context():
        db_session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db_session.commit()
    assert error_of(api.get("/api/auth/me")) == (401, "no_session")


def test_password_reset_signs_the_user_out_everywhere(world: World) -> None:
    user = world.client()
    user.login("owner@a-biz.co.il")
    admin = world.as_("admin")
    response = admin.post(f"/api/admin/users/{world.user_a_id}/reset-password", {})
    assert response.status_code == 200
    new_password = response.json["generated_password"]
    assert new_password and len(new_password) >= 16
    assert error_of(user.get("/api/auth/me")) == (401, "no_session")
    assert world.client().login("owner@a-biz.co.il", PASSWORD).status_code == 401
    assert world.client().login("owner@a-biz.co.il", new_password).status_code == 200


def test_login_rate_limited_per_email_with_retry_after(world: World) -> None:
    api = world.client()
    for _ in range(10):
        assert api.login("owner@a-biz.co.il", "wrong-password").status_code == 401
    response = api.login("owner@a-biz.co.il", PASSWORD)
    assert error_of(response) == (429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    # Another account from the same address is not locked by this one.
    assert world.client().login("owner@b-biz.co.il").status_code == 200


def test_login_rate_limited_per_ip(world: World, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(app.extensions["settings"], "login_rate_limit_ip", "3 per minute")
    responses = [world.client().login(f"user{i}@x.test", "pw") for i in range(4)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    assert error_of(responses[-1]) == (429, "rate_limited")
    assert 0 < int(responses[-1].headers["Retry-After"]) <= 60


def test_successful_logins_do_not_count_against_the_email_limit(world: World) -> None:
    for _ in range(12):
        assert world.client().login("owner@a-biz.co.il").status_code == 200
