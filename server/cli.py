"""flask --app server.app <command>: migrate, create-admin, ensure-admin, seed-demo."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from server.admin import service as admin_service
from server.admin.schemas import BusinessCreateIn, UserCreateIn
from server.auth.context import TenantId
from server.auth.models import Role, User
from server.business import service as business_service
from server.business.models import Business
from server.db import db_session
from server.migrate import upgrade_to_head

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
        created = admin_service.create_user(
            None, UserCreateIn(email=email, password=password, full_name=full_name, role="admin")
        )
        click.echo(f"admin created: {created.user.email} (id {created.user.id})")

    @app.cli.command("ensure-admin")
    @click.option("--email", default="admin@example.com", show_default=True)
    def ensure_admin(email: str) -> None:
        """Create the first admin if there is none, printing its generated password once."""
        existing = db_session.scalar(select(User).where(User.role == Role.admin.value).limit(1))
        if existing is not None:
            click.echo(f"admin exists: {existing.email} (reset with: flask --app server.app create-admin)")
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
