"""flask --app server.app <command>: migrate, create-admin, reset-password, ensure-admin, seed-demo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask
from pydantic import ValidationError
from sqlalchemy import select

from server.admin import service as admin_service
from server.admin.schemas import BusinessCreateIn, UserCreateIn
from server.auth.context import TenantId
from server.auth.models import Role, User
from server.business import service as business_service
from server.business.models import Business
from server.db import db_session
from server.errors import ApiError
from server.migrate import upgrade_to_head
from server.validation import pydantic_fields

DEMO_CALLS_PROMPT = (
    "את/ה נציג/ה טלפוני/ת של {business}. ענו בעברית, בנימוס ובקצרה. "
    "בררו את שם המתקשר, סיבת הפנייה ומתי נוח לחזור אליו, ושמרו אותם כליד."
)
DEMO_WHATSAPP_PROMPT = (
    "את/ה עונה בוואטסאפ בשם {business}. ענו בעברית, בהודעות קצרות וחמות. "
    "אספו שם, צורך ומועד נוח ליצירת קשר, והציעו שנציג יחזור."
)


def register(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate() -> None:
        """Upgrade the database schema to the latest migration."""
        head = upgrade_to_head(app.extensions["settings"].database_url)
        click.echo(f"database schema at {head}")

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", "full_name", default="")
    def create_admin(email: str, password: str, full_name: str) -> None:
        """Create a platform admin."""
        with _refusals_as_messages():
            data = UserCreateIn(email=email, password=password, full_name=full_name, role="admin")
            created = admin_service.create_user(None, data)
        click.echo(f"admin created: {created.user.email} (id {created.user.id})")

    @app.cli.command("reset-password")
    @click.option("--email", required=True)
    @click.option(
        "--password",
        default="",
        help="The new password (at least 10 characters); leave out to generate one, printed once.",
    )
    def reset_password(email: str, password: str) -> None:
        """Set a user's password and sign them out everywhere."""
        user = db_session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user with the email {email}")
        if password and len(password) < 10:
            raise click.ClickException("password: at least 10 characters")
        with _refusals_as_messages():
            generated = admin_service.reset_password(None, user.id, password or None)
        click.echo(f"password of {user.email} reset; every session of theirs is signed out")
        if generated:
            click.echo(f"  NEW_PASSWORD={generated}  (shown once)")

    @app.cli.command("ensure-admin")
    @click.option("--email", default="admin@example.com", show_default=True)
    def ensure_admin(email: str) -> None:
        """Create the first admin if there is none, printing its generated password once."""
        existing = db_session.scalar(select(User).where(User.role == Role.admin.value).limit(1))
        if existing is not None:
            click.echo(
                f"admin exists: {existing.email} (forgot the password? "
                f".venv/bin/flask --app server.app reset-password --email {existing.email})"
            )
            return
        created = admin_service.create_user(None, UserCreateIn(email=email, role="admin", full_name="Admin"))
        banner = "=" * 64
        click.echo(
            f"{banner}\nFirst admin created. Shown once; save it now.\n"
            f"  ADMIN_EMAIL={created.user.email}\n  ADMIN_PASSWORD={created.generated_password}\n{banner}"
        )

    @app.cli.command("seed-demo")
    @click.option("--name", default="מספרת הדגמה", show_default=True)
    @click.option("--email", default="owner@demo.example.com", show_default=True)
    def seed_demo(name: str, email: str) -> None:
        """Create a demo business, its business user and sample prompts."""
        business = db_session.scalar(select(Business).where(Business.name == name))
        if business is None:
            business = admin_service.create_business(None, BusinessCreateIn(name=name))  # type: ignore[arg-type]
            click.echo(f"business created: {business.name} (id {business.id})")
        else:
            click.echo(f"business exists: {business.name} (id {business.id})")
        user = db_session.scalar(select(User).where(User.email == email))
        if user is None:
            created = admin_service.create_user(
                None,
                UserCreateIn(email=email, role="business", business_id=business.id, full_name="בעל העסק"),
            )
            click.echo(f"business user: {created.user.email} password: {created.generated_password}")
        else:
            click.echo(f"business user exists: {user.email}")
        tenant = TenantId(business.id)
        if business_service.get_prompt(tenant) is None:
            business_service.save_prompt(
                None,
                tenant,
                DEMO_CALLS_PROMPT.format(business=business.name),
                DEMO_WHATSAPP_PROMPT.format(business=business.name),
            )
            click.echo("sample prompts saved")


@contextmanager
def _refusals_as_messages() -> Iterator[None]:
    """The service's refusals (a taken email, a short password) as one line, not a traceback."""
    try:
        yield
    except ValidationError as exc:
        fields = "; ".join(f"{f['field']}: {f['message']}" for f in pydantic_fields(exc))
        raise click.ClickException(fields) from exc
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
