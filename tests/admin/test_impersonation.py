"""Impersonation: two session flags, audited, expiring, never changing the user's role."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import update

from server.admin.models import Impersonation
from server.db import db_session, utcnow
from tests.conftest import World, error_of


def test_the_owners_contract(world: World) -> None:
    api = world.as_("admin")
    response = api.post(f"/api/admin/businesses/{world.business_a}/impersonate", {"reason": "ticket 42"})
    assert response.status_code == 200
    body = response.json
    assert body["ok"] is True and body["impersonating"] is True
    assert body["tenant_id"] == world.business_a
    assert body["business"]["name"] == "מספרה א"
    with api.client.session_transaction() as session:
        assert session["impersonating"] is True
        assert session["impersonated_tenant_id"] == world.business_a
        assert session["user"]["role"] == "admin"  # never changed
    me = api.get("/api/auth/me").json
    assert me["role"] == "admin" and me["impersonating"] is True
    assert me["tenant_id"] == world.business_a
    assert me["impersonation"]["reason"] == "ticket 42"

    exit_ = api.post("/api/admin/impersonate/exit")
    assert exit_.status_code == 200 and exit_.json == {
        "ok": True,
        "impersonating": False,
        "ended_tenant_id": world.business_a,
    }
    with api.client.session_transaction() as session:
        assert "impersonating" not in session and "impersonated_tenant_id" not in session
        assert session["user"]["role"] == "admin"
    assert error_of(api.get("/api/business/current/prompt")) == (403, "no_tenant")


def test_impersonation_is_audited_start_write_and_end(world: World) -> None:
    api = world.as_("admin")
    api.post(f"/api/admin/businesses/{world.business_a}/impersonate", {"reason": "onboarding"})
    api.put("/api/business/current/prompt", {"calls_prompt": "c", "whatsapp_prompt": "w"})
    api.post("/api/admin/impersonate/exit")
    rows = api.get(f"/api/admin/audit?business_id={world.business_a}").json["items"]
    actions = [r["action"] for r in rows]
    assert actions[:3] == ["impersonation.end", "prompt.update", "impersonation.start"]
    impersonation_id = rows[2]["impersonation_id"]
    assert impersonation_id is not None
    for row in rows[:3]:
        assert row["actor_id"] == world.admin_id
        assert row["impersonation_id"] == impersonation_id
        assert row["request_id"]
    assert rows[2]["details"]["reason"] == "onboarding"


def test_expired_impersonation_is_no_tenant_and_clears_the_flags(world: World, app: Flask) -> None:
    api = world.as_("admin_as_a")
    with app.app_context():
        db_session.execute(update(Impersonation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db_session.commit()
    response = api.get("/api/business/current/prompt")
    assert error_of(response) == (403, "no_tenant")
    assert "expired" in response.json["message"]
    me = api.get("/api/auth/me").json
    assert me["impersonating"] is False and me["tenant_id"] is None
    expired = api.get("/api/admin/audit?action=impersonation.expired").json["items"]
    assert len(expired) == 1 and expired[0]["actor_id"] == world.admin_id
    assert expired[0]["actor_email"] == "admin@platform.co.il" and expired[0]["request_id"]
    assert expired[0]["details"]["ended_reason"] == "expired"


def test_ttl_comes_from_settings(world: World, app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(app.extensions["settings"], "impersonation_ttl_minutes", 5)
    body = world.as_("admin").post(f"/api/admin/businesses/{world.business_a}/impersonate").json
    from datetime import datetime

    started = datetime.fromisoformat(body["started_at"])
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires - started == timedelta(minutes=5)


def test_switching_business_replaces_the_impersonation(world: World) -> None:
    api = world.as_("admin_as_a")
    assert api.post(f"/api/admin/businesses/{world.business_b}/impersonate").status_code == 200
    assert api.get("/api/business/current").json["id"] == world.business_b
    ended = _ends(world, world.business_a)
    assert [row["details"]["ended_reason"] for row in ended] == ["replaced"]
    assert ended[0]["actor_id"] == world.admin_id


def _ends(world: World, business_id: int) -> list[dict]:  # type: ignore[type-arg]
    rows = world.as_("admin").get(f"/api/admin/audit?business_id={business_id}&action=impersonation.end")
    return rows.json["items"]


def test_every_way_an_impersonation_ends_is_audited(world: World) -> None:
    """Logout, a password reset (sessions revoked) and deactivating the business end it too."""
    world.as_("admin_as_a").logout()
    world.as_("manager").post(f"/api/admin/businesses/{world.business_a}/impersonate")
    reset = world.as_("admin").post(f"/api/admin/users/{world.manager_id}/reset-password", {})
    world.as_("admin_as_a")
    # The manager deactivates the business while the admin impersonates it.
    manager = world.client()
    assert manager.login("manager@platform.co.il", reset.json["generated_password"]).status_code == 200
    assert manager.delete(f"/api/admin/businesses/{world.business_a}").status_code == 200
    ended = _ends(world, world.business_a)
    reasons = [row["details"]["ended_reason"] for row in reversed(ended)]
    assert reasons == ["logout", "sessions_revoked", "business_deactivated"]
    assert all(row["impersonation_id"] is not None for row in ended)
    deactivated, revoked, logout = ended
    assert logout["actor_id"] == world.admin_id and "impersonator_id" not in logout["details"]
    assert revoked["actor_id"] == world.manager_id  # no request context: the impersonator is named
    assert deactivated["actor_id"] == world.manager_id and deactivated["request_id"]
    assert deactivated["details"]["impersonator_id"] == world.admin_id


def test_cannot_impersonate_a_missing_or_inactive_business(world: World) -> None:
    api = world.as_("admin")
    assert error_of(api.post("/api/admin/businesses/9999/impersonate")) == (404, "business_not_found")
    api.delete(f"/api/admin/businesses/{world.business_b}")
    assert error_of(api.post(f"/api/admin/businesses/{world.business_b}/impersonate")) == (
        409,
        "business_inactive",
    )


def test_deactivating_the_business_ends_its_impersonations(world: World) -> None:
    impersonator = world.as_("admin_as_a")
    world.as_("admin").delete(f"/api/admin/businesses/{world.business_a}")
    assert error_of(impersonator.get("/api/business/current")) == (403, "no_tenant")


def test_manager_may_impersonate(world: World) -> None:
    api = world.as_("manager")
    assert api.post(f"/api/admin/businesses/{world.business_b}/impersonate").status_code == 200
    assert (
        api.put("/api/business/current/prompt", {"calls_prompt": "m", "whatsapp_prompt": "m"}).status_code
        == 200
    )


def test_reason_is_validated(world: World) -> None:
    api = world.as_("admin")
    response = api.post(f"/api/admin/businesses/{world.business_a}/impersonate", {"reason": "x" * 501})
    assert response.status_code == 422 and response.json["fields"][0]["field"] == "reason"
    response = api.post(f"/api/admin/businesses/{world.business_a}/impersonate", {"why": "x"})
    assert response.status_code == 422 and response.json["fields"][0]["field"] == "why"
