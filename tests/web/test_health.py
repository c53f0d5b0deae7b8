"""/healthz, /livez, /readyz, /version, the OpenAPI document and the JSON error shape."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from server.app import create_app
from server.db import get_engine, init_db
from tests.conftest import World, make_settings


def test_health_endpoints(world: World) -> None:
    api = world.client()
    assert api.get("/healthz").json == {"status": "ok"}
    assert api.get("/livez").status_code == 200
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ok" and ready.json["schema_revision"]
    version = api.get("/version").json
    assert set(version) == {"version", "commit", "built_at"}


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("0001", "schema_behind"),  # an old revision of this code: run the migrations
        ("9999_from_a_newer_release", "schema_ahead"),  # older code serving a newer schema
    ],
)
def test_readyz_reports_a_schema_not_at_head(app: Flask, database_url: str, at: str, reason: str) -> None:
    engine = get_engine()
    with engine.begin() as connection:
        heads = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": at})
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["reason"] == reason
        assert response.json["head"] == ", ".join(sorted(heads)) and response.json["current"] == at
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
            for head in heads:
                connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})


def test_readyz_reports_an_unreachable_database(database_url: str) -> None:
    down = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"), TESTING=True)
    try:
        response = down.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["reason"] == "database_unreachable"
        assert down.test_client().get("/healthz").status_code == 200
    finally:
        init_db(database_url)


def test_openapi_describes_the_routes_from_the_models(world: World) -> None:
    doc = world.client().get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    put = doc["paths"]["/api/business/current/prompt"]["put"]
    schema_ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    schema = doc["components"]["schemas"][schema_ref]
    assert set(schema["properties"]) == {"calls_prompt", "whatsapp_prompt"}
    assert schema["properties"]["calls_prompt"]["maxLength"] == 20_000
    assert "/api/admin/businesses/{business_id}/impersonate" in doc["paths"]
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        assert "get" in doc["paths"][path], path


def test_unknown_api_route_and_method_are_json(world: World) -> None:
    api = world.as_("admin")
    response = api.get("/api/nothing")
    assert response.status_code == 404 and response.json["error"] and response.json["reason"]
    response = api.post("/api/auth/me")
    assert response.status_code == 405 and response.json["reason"] == "method_not_allowed"


def test_request_id_is_echoed(world: World) -> None:
    response = world.client().client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"


def test_built_assets_are_cached_for_good_and_the_page_is_always_checked(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.web import views

    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "index-AbC123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    monkeypatch.setattr(views, "CLIENT_DIST", tmp_path)
    client = world.client()

    asset = client.get("/assets/index-AbC123.js")
    assert asset.status_code == 200
    assert asset.cache_control.max_age == 365 * 24 * 3600 and asset.cache_control.immutable
    assert asset.cache_control.public and not asset.cache_control.no_cache
    assert "Content-Encoding" not in asset.headers and asset.data == b"console.log(1)"
    packed = client.get("/assets/index-AbC123.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == b"console.log(1)"
    assert packed.mimetype in ("text/javascript", "application/javascript")
    assert packed.cache_control.max_age == 365 * 24 * 3600 and packed.cache_control.immutable
    assert packed.cache_control.public and not packed.cache_control.no_cache
    for path in ("/", "/app/leads"):
        page = client.get(path)
        assert page.status_code == 200 and page.cache_control.no_cache
    assert client.get("/favicon.svg").status_code == 200
