"""Writing and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.admin.models import AuditEntry
from server.auth.context import RequestContext
from server.db import db_session


def record(
    ctx: RequestContext | None,
    action: str,
    *,
    business_id: int | None = None,
    target_type: str | None = None,
    target_id: object = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the current unit of work (committed with the change it describes)."""
    entry = AuditEntry(
        action=action,
        business_id=business_id if business_id is not None else (ctx.tenant_id if ctx else None),
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
    )
    if ctx is not None:
        entry.actor_id = ctx.user_id
        entry.actor_email = ctx.email
        entry.actor_role = ctx.role.value
        entry.impersonation_id = ctx.impersonation_id
        entry.ip = ctx.ip
        entry.request_id = ctx.request_id
        ctx.audited = True
    db_session.add(entry)
    return entry


def search(
    *,
    actor_id: int | None = None,
    business_id: int | None = None,
    action: str | None = None,
    impersonation_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first, keyset-paged by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if business_id is not None:
        query = query.where(AuditEntry.business_id == business_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if impersonation_id is not None:
        query = query.where(AuditEntry.impersonation_id == impersonation_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db_session.scalars(query))
