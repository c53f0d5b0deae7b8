"""The CLI: create-admin, reset-password, ensure-admin and seed-demo against the real database."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from server.auth.models import User
from server.business.models import Business, Prompt
from server.db import db_session
from tests.conftest import Api


def _run(app: Flask, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args), input=input)


def _logs_in(app: Flask, email: str, password: str) -> bool:
    return Api(app.test_client()).login(email, password).status_code == 200


def test_create_admin_then_refusals_in_one_line(app: Flask) -> None:
    result = _run(app, "create-admin", "--email", "Boss@Platform.co.il", "--password", "long-enough-pw")
    assert result.exit_code == 0, result.output
    assert "admin created: boss@platform.co.il" in result.output
    assert _logs_in(app, "boss@platform.co.il", "long-enough-pw")

    again = _run(app, "create-admin", "--email", "boss@platform.co.il", "--password", "long-enough-pw")
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "already exists" in again.output

    short = _run(app, "create-admin", "--email", "x@platform.co.il", "--password", "short")
    assert short.exit_code == 1 and "password:" in short.output and "10" in short.output


def test_create_admin_prompts_for_the_password_twice(app: Flask) -> None:
    typed = "typed-secret-1\ntyped-secret-1\n"
    result = _run(app, "create-admin", "--email", "asked@platform.co.il", input=typed)
    assert result.exit_code == 0, result.output
    assert _logs_in(app, "asked@platform.co.il", "typed-secret-1")


def test_reset_password_generates_or_sets_and_signs_out(app: Flask) -> None:
    _run(app, "create-admin", "--email", "forgot@platform.co.il", "--password", "first-password")
    browser = Api(app.test_client())
    assert browser.login("forgot@platform.co.il", "first-password").status_code == 200

    result = _run(app, "reset-password", "--email", "FORGOT@platform.co.il")
    assert result.exit_code == 0, result.output
    generated = result.output.split("NEW_PASSWORD=")[1].split()[0]
    assert browser.get("/api/auth/me").status_code == 401  # signed out everywhere
    assert not _logs_in(app, "forgot@platform.co.il", "first-password")
    assert _logs_in(app, "forgot@platform.co.il", generated)

    chosen = _run(app, "reset-password", "--email", "forgot@platform.co.il", "--password", "chosen-password")
    assert chosen.exit_code == 0 and "NEW_PASSWORD" not in chosen.output
    assert _logs_in(app, "forgot@platform.co.il", "chosen-password")

    missing = _run(app, "reset-password", "--email", "nobody@platform.co.il")
    assert missing.exit_code == 1 and "no user" in missing.output


def test_ensure_admin_creates_one_once(app: Flask) -> None:
    first = _run(app, "ensure-admin", "--email", "first@platform.co.il")
    assert first.exit_code == 0 and "ADMIN_PASSWORD=" in first.output
    password = first.output.split("ADMIN_PASSWORD=")[1].split()[0]
    assert _logs_in(app, "first@platform.co.il", password)
    second = _run(app, "ensure-admin", "--email", "other@platform.co.il")
    assert second.exit_code == 0 and "ADMIN_PASSWORD" not in second.output
    assert "reset-password --email first@platform.co.il" in second.output
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(User)) == 1


def test_seed_demo_makes_a_business_its_user_and_prompts_once(app: Flask) -> None:
    result = _run(app, "seed-demo")
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].split()[0]
    owner = Api(app.test_client())
    assert owner.login("owner@demo.example.com", password).status_code == 200
    prompt = owner.get("/api/business/current/prompt").json
    assert "מספרת הדגמה" in prompt["calls_prompt"] and prompt["whatsapp_prompt"]
    again = _run(app, "seed-demo")
    assert again.exit_code == 0 and "exists" in again.output
    with app.app_context():
        assert db_session.scalar(select(func.count()).select_from(Business)) == 1
        assert db_session.scalar(select(func.count()).select_from(Prompt)) == 1
