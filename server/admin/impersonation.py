"""Impersonation: an admin or manager acting as one business for a limited time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.admin import audit
from server.admin.models import AuditEntry, Impersonation
from server.auth.context import RequestContext
from server.auth.models import User
from server.business.models import Business
from server.db import db_session, utcnow
from server.errors import Conflict, NotFound


def start(
    ctx: RequestContext, business_id: int, reason: str, ttl: timedelta
) -> tuple[Impersonation, Business]:
    business = db_session.get(Business, business_id)
    if business is None:
        raise NotFound("business", business_id)
    if not business.is_active:
        raise Conflict(
            "business_inactive",
            f"Business {business_id} is deactivated; reactivate it before impersonating it.",
        )
    replaced = _open_for_session(ctx.session_id)
    if replaced is not None:
        end(replaced, "replaced", ctx)
    now = utcnow()
    record = Impersonation(
        actor_id=ctx.user_id,
        business_id=business.id,
        session_id=ctx.session_id,
        reason=reason,
        started_at=now,
        expires_at=now + ttl,
    )
    db_session.add(record)
    db_session.flush()
    entry = audit.record(
        ctx,
        "impersonation.start",
        business_id=business.id,
        target_type="business",
        target_id=business.id,
        details={"reason": reason, "expires_at": record.expires_at.isoformat()},
    )
    entry.impersonation_id = record.id
    db_session.commit()
    return record, business


def exit_(ctx: RequestContext) -> Impersonation | None:
    record = active_for_session(ctx.session_id)
    if record is None:
        return None
    end(record, "exit", ctx)
    db_session.commit()
    return record


def active_for_session(session_id: str) -> Impersonation | None:
    record = _open_for_session(session_id)
    if record is None or record.expires_at <= utcnow():
        return None
    return record


def expire_for_session(session_id: str, ip: str | None, request_id: str) -> None:
    """Close an impersonation whose time ran out (called by the guard when it notices)."""
    record = _open_for_session(session_id)
    if record is None:
        return
    entry = end(record, "expired")
    entry.ip, entry.request_id = ip, request_id
    db_session.commit()


def end_for_session(session_id: str, ended_reason: str) -> None:
    """The session is ending (logout, sessions revoked): so is its impersonation. Does not commit."""
    record = _open_for_session(session_id)
    if record is not None:
        end(record, ended_reason)


def end_for_business(business_id: int, ended_reason: str, ctx: RequestContext) -> None:
    still_open = Impersonation.business_id == business_id, Impersonation.ended_at.is_(None)
    for record in list(db_session.scalars(select(Impersonation).where(*still_open))):
        end(record, ended_reason, ctx)


def end(record: Impersonation, ended_reason: str, ctx: RequestContext | None = None) -> AuditEntry:
    """Every way an impersonation ends leaves an audit row; without a request context (expiry, a
    revoked session) the row names the impersonator."""
    record.ended_at = utcnow()
    record.ended_reason = ended_reason
    entry = audit.record(
        ctx,
        "impersonation.expired" if ended_reason == "expired" else "impersonation.end",
        business_id=record.business_id,
        target_type="business",
        target_id=record.business_id,
        details={"ended_reason": ended_reason},
    )
    if ctx is not None and ctx.user_id != record.actor_id:
        entry.details = {**entry.details, "impersonator_id": record.actor_id}
    elif ctx is None:
        actor = db_session.get(User, record.actor_id)
        entry.actor_id = record.actor_id
        entry.actor_email, entry.actor_role = (actor.email, actor.role) if actor else (None, None)
    entry.impersonation_id = record.id
    return entry


def _open_for_session(session_id: str) -> Impersonation | None:
    return db_session.scalar(
        select(Impersonation).where(Impersonation.session_id == session_id, Impersonation.ended_at.is_(None))
    )
