"""Login, logout and session records. No Flask request objects here."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from server.admin import audit, impersonation
from server.admin.models import Impersonation
from server.auth.models import User, UserSession
from server.auth.passwords import (
    burn_verification_time,
    hash_password,
    needs_rehash,
    verify_password,
)
from server.business.models import Business
from server.db import db_session, utcnow
from server.errors import Forbidden, Unauthorized


def users_by_id(user_ids: Iterable[int | None]) -> dict[int, User]:
    """One query for the users a list names (actors of a timeline, savers of prompts)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    return {user.id: user for user in db_session.scalars(select(User).where(User.id.in_(wanted)))}


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db_session.scalar(select(User).where(User.email == normalise_email(email)))


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
    request_id: str


def authenticate(
    email: str, password: str, lifetime: timedelta, client: ClientInfo, replaces: str | None = None
) -> UserSession:
    """Check the credentials and open a session; the same 401 for a wrong email or password.

    `replaces`: the session this browser had until now, revoked so that a copy of its cookie dies too."""
    user = find_user_by_email(email)
    if user is None:
        burn_verification_time(password)
        raise _invalid_credentials()
    if not verify_password(user.password_hash, password):
        raise _invalid_credentials()
    if not user.is_active:
        raise _invalid_credentials()
    if user.business is not None and not user.business.is_active:
        raise Forbidden(
            "business_inactive",
            "This business is deactivated on the platform; contact the platform's support.",
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    now = utcnow()
    user.last_login_at = now
    record = UserSession(
        id=secrets.token_urlsafe(32),
        user=user,
        created_at=now,
        expires_at=now + lifetime,
        ip=client.ip,
        user_agent=(client.user_agent or "")[:300] or None,
    )
    db_session.add(record)
    if replaces:
        revoke_session(replaces, ended_reason="login")
    entry = audit.record(
        None, "auth.login", business_id=user.business_id, target_type="user", target_id=user.id
    )
    entry.actor_id, entry.actor_email, entry.actor_role = user.id, user.email, user.role
    entry.ip, entry.request_id = client.ip, client.request_id
    db_session.commit()
    return record


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("invalid_credentials", "Wrong email or password.")


@dataclass(frozen=True)
class LiveSession:
    user_id: int
    role: str
    email: str


def live_session(session_id: str) -> LiveSession | None:
    """Whose session this is, if it is neither revoked nor expired and its user is active.

    Runs before every API request: one row of three columns, no ORM objects to build."""
    row = db_session.execute(
        select(UserSession.user_id, User.role, User.email)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.id == session_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    ).first()
    return LiveSession(*row) if row is not None else None


def identity(
    user_id: int, tenant_id: int | None, impersonation_id: int | None
) -> tuple[User, Business | None, Impersonation | None]:
    """Who is asking, the business they act for and their impersonation: what /api/auth/me shows."""
    user = db_session.get(User, user_id)
    if user is None:
        raise Unauthorized("no_session", "Your user no longer exists; log in again.")
    tenant = db_session.get(Business, tenant_id) if tenant_id is not None else None
    impersonation_record = db_session.get(Impersonation, impersonation_id) if impersonation_id else None
    return user, tenant, impersonation_record


def log_out(session_id: str) -> None:
    revoke_session(session_id)
    db_session.commit()


def revoke_session(session_id: str, ended_reason: str = "logout") -> None:
    now = utcnow()
    db_session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    impersonation.end_for_session(session_id, ended_reason)


def revoke_all_sessions(user_id: int) -> int:
    """Sign a user out everywhere (password reset, deactivation, role change)."""
    ids = list(
        db_session.scalars(
            select(UserSession.id).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        )
    )
    for session_id in ids:
        revoke_session(session_id, ended_reason="sessions_revoked")
    return len(ids)
