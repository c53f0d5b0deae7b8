"""Impersonation: an admin or manager acting as one business for a limited time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server.admin import audit
from server.admin.models import Impersonation
from server.auth.context import RequestContext
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
    now = utcnow()
    _end_open(ctx.session_id, "replaced")
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
    record.ended_at = utcnow()
    record.ended_reason = "exit"
    audit.record(
        ctx,
        "impersonation.end",
        business_id=record.business_id,
        target_type="business",
        target_id=record.business_id,
        details={"ended_reason": "exit"},
    )
    db_session.commit()
    return record


def active_for_session(session_id: str) -> Impersonation | None:
    record = db_session.scalar(
        select(Impersonation).where(Impersonation.session_id == session_id, Impersonation.ended_at.is_(None))
    )
    if record is None or record.expires_at <= utcnow():
        return None
    return record


def expire_for_session(session_id: str) -> None:
    """Close an impersonation whose time ran out (called by the guard when it notices)."""
    record = db_session.scalar(
        select(Impersonation).where(Impersonation.session_id == session_id, Impersonation.ended_at.is_(None))
    )
    if record is None:
        return
    record.ended_at = utcnow()
    record.ended_reason = "expired"
    entry = audit.record(
        None,
        "impersonation.expired",
        business_id=record.business_id,
        target_type="business",
        target_id=record.business_id,
    )
    entry.actor_id = record.actor_id
    entry.impersonation_id = record.id
    db_session.commit()


def end_for_business(business_id: int, ended_reason: str) -> None:
    db_session.execute(
        update(Impersonation)
        .where(Impersonation.business_id == business_id, Impersonation.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=ended_reason)
    )


def _end_open(session_id: str, ended_reason: str) -> None:
    db_session.execute(
        update(Impersonation)
        .where(Impersonation.session_id == session_id, Impersonation.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=ended_reason)
    )
