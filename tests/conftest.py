"""Shared fixtures: a real database (SQLite file, or PostgreSQL at TEST_DATABASE_URL), the real app
with CSRF enabled, and helpers to act as each kind of user."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text, update
from werkzeug.test import TestResponse

from server.admin import service as admin_service
from server.admin.models import Impersonation
from server.admin.schemas import BusinessCreateIn, UserCreateIn
from server.app import create_app
from server.auth import passwords
from server.business.models import Business
from server.db import Base, db_session, get_engine, utcnow
from server.extensions import limiter
from server.jobs import huey
from server.migrate import upgrade_to_head
from server.settings import AppEnv, Settings

PASSWORD = "correct-horse-battery"
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
TEST_DATA_KEY = "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5LWFiY2RlZmc="  # Fernet, tests only

# Jobs run synchronously, in-process, in the API tests; the e2e tests run the real consumer.
huey.immediate = True

# Hashing at production cost would make every test that creates a user ~60 ms slower; the code
# path (argon2id hash + verify) is the same.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _database_url(tmp_path_factory)
    upgrade_to_head(url)
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": AppEnv.development,
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "redis_url": "",
        # WhatsApp: preview/production refuse to start without DATA_ENCRYPTION_KEY (a Fernet key).
        "data_encryption_key": TEST_DATA_KEY,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def app(database_url: str) -> Flask:
    return create_app(make_settings(database_url), TESTING=True)


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "database_url" not in request.fixturenames:
        return
    db_session.remove()
    engine = get_engine()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    limiter.reset()


class Api:
    """A browser-like client: keeps cookies, sends X-CSRFToken on writes unless told not to."""

    def __init__(self, client: FlaskClient):
        self.client = client
        self.token: str | None = None

    def login(self, email: str, password: str = PASSWORD) -> TestResponse:
        response = self.client.post("/api/auth/login", json={"email": email, "password": password})
        if response.status_code == 200:
            self.refresh_csrf()
        return response

    def refresh_csrf(self) -> str:
        self.token = self.client.get("/api/auth/csrf").json["csrfToken"]
        return self.token

    def logout(self) -> TestResponse:
        return self.client.post("/api/auth/logout")

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def options(self, url: str) -> TestResponse:
        return self.client.options(url)

    def write(
        self, method: str, url: str, json: Any = None, csrf: bool | str = True, **kw: Any
    ) -> TestResponse:
        headers = dict(kw.pop("headers", {}))
        if csrf is True and self.token:
            headers["X-CSRFToken"] = self.token
        elif isinstance(csrf, str):
            headers["X-CSRFToken"] = csrf
        if isinstance(json, bytes):  # a raw body (CSV uploads)
            kw.setdefault("content_type", "text/csv")
            return self.client.open(url, method=method, data=json, headers=headers, **kw)
        return self.client.open(url, method=method, json=json, headers=headers, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.write("POST", url, json, **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.write("PUT", url, json, **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> TestResponse:
        return self.write("PATCH", url, json, **kw)

    def delete(self, url: str, **kw: Any) -> TestResponse:
        return self.write("DELETE", url, None, **kw)


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app.test_client())


@pytest.fixture
def new_api(app: Flask) -> Any:
    """Factory for extra independent clients (another browser)."""
    return lambda: Api(app.test_client())


def make_business(name: str = "עסק בדיקה", **fields: Any) -> Business:
    return admin_service.create_business(None, BusinessCreateIn(name=name, **fields))


def make_user(email: str, role: str, business_id: int | None = None, password: str = PASSWORD) -> int:
    created = admin_service.create_user(
        None,
        UserCreateIn(email=email, role=role, business_id=business_id, password=password),  # type: ignore[arg-type]
    )
    return created.user.id


@dataclass
class World:
    business_a: int
    business_b: int
    admin_id: int
    manager_id: int
    user_a_id: int
    user_b_id: int
    app: Flask

    def client(self) -> Api:
        return Api(self.app.test_client())

    def as_(self, who: str) -> Api:
        """'anonymous', 'admin', 'manager', 'business_a', 'business_b', 'admin_as_a', and
        'admin_expired_as_a' (an admin whose impersonation of A has run out)."""
        api = self.client()
        if who == "anonymous":
            api.refresh_csrf()
            return api
        email = {
            "admin": "admin@platform.co.il",
            "admin_as_a": "admin@platform.co.il",
            "admin_expired_as_a": "admin@platform.co.il",
            "manager": "manager@platform.co.il",
            "business_a": "owner@a-biz.co.il",
            "business_b": "owner@b-biz.co.il",
        }[who]
        assert api.login(email).status_code == 200
        if who in ("admin_as_a", "admin_expired_as_a"):
            started = api.post(f"/api/admin/businesses/{self.business_a}/impersonate")
            assert started.status_code == 200
        if who == "admin_expired_as_a":
            with self.app.app_context():
                db_session.execute(
                    update(Impersonation)
                    .where(Impersonation.actor_id == self.admin_id, Impersonation.ended_at.is_(None))
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
                db_session.commit()
        return api


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        a = make_business("מספרה א", voice_numbers=["03-555-0101"])
        b = make_business("מוסך ב", voice_numbers=["03-555-0202"])
        return World(
            business_a=a.id,
            business_b=b.id,
            admin_id=make_user("admin@platform.co.il", "admin"),
            manager_id=make_user("manager@platform.co.il", "manager"),
            user_a_id=make_user("owner@a-biz.co.il", "business", a.id),
            user_b_id=make_user("owner@b-biz.co.il", "business", b.id),
            app=app,
        )


def error_of(response: TestResponse) -> tuple[int, str | None]:
    body = response.get_json(silent=True) or {}
    return response.status_code, body.get("reason")
