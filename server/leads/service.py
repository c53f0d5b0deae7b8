"""Leads: create, update, move, note, delete, list; the phone/WhatsApp agents' upsert by phone.

Every function takes the scope the guard resolved: a TenantId, or ALL_TENANTS for an admin who
is not impersonating (reads only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import with_expression

from server import pagination
from server.admin import audit
from server.auth.context import RequestContext, TenantId
from server.auth.models import Role, User
from server.db import UTCDateTime, db_session, insert_or_nothing, utcnow
from server.errors import ApiError, Conflict, NotFound, ValidationFailed
from server.leads.models import (
    DEFAULT_PIPELINE,
    TAG_SEPARATOR,
    Lead,
    LeadEvent,
    LeadEventKind,
    LeadSource,
    LeadStatus,
    LeadTag,
    NameSource,
)
from server.leads.schemas import LeadCreateIn, LeadPatchIn, LeadQuery, StatusIn
from server.phones import InvalidPhone, Phone, parse_phone


class AllTenants:
    """The scope of an admin/manager reading leads across every business (never for writes)."""

    def __repr__(self) -> str:
        return "ALL_TENANTS"


ALL_TENANTS = AllTenants()
LeadScope = TenantId | AllTenants


@dataclass
class LeadWrite:
    lead: Lead
    warnings: list[dict[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------- pipeline


def pipeline(tenant: TenantId) -> list[LeadStatus]:
    """The business's statuses in order; the default pipeline is created on first use."""
    statuses = list(
        db_session.scalars(
            select(LeadStatus).where(LeadStatus.business_id == tenant).order_by(LeadStatus.position)
        )
    )
    if statuses:
        return statuses
    statuses = [
        LeadStatus(business_id=tenant, key=key, label=label, position=index, kind=kind.value)
        for index, (key, label, kind) in enumerate(DEFAULT_PIPELINE)
    ]
    try:
        with db_session.begin_nested():
            db_session.add_all(statuses)
    except IntegrityError:  # another request created them a moment ago
        return pipeline(tenant)
    return statuses


def status_keys(tenant: TenantId) -> list[str]:
    return [s.key for s in pipeline(tenant)]


def save_pipeline(ctx: RequestContext, tenant: TenantId, wanted: Sequence[StatusIn]) -> list[LeadStatus]:
    """Rename, reorder and add statuses. A status still used by a lead cannot be dropped."""
    current = {s.key: s for s in pipeline(tenant)}
    keys = [s.key for s in wanted]
    if len(set(keys)) != len(keys):
        raise ValidationFailed(
            [{"field": "statuses", "message": "status keys must be unique", "type": "value"}]
        )
    dropped = set(current) - set(keys)
    if dropped:
        in_use = db_session.scalars(
            select(Lead.status)
            .where(Lead.business_id == tenant, Lead.status.in_(dropped), Lead.deleted_at.is_(None))
            .distinct()
        ).all()
        if in_use:
            raise Conflict(
                "status_in_use",
                f"Leads still have status {', '.join(sorted(in_use))}; move them before removing it.",
                statuses=sorted(in_use),
            )
        db_session.execute(
            delete(LeadStatus).where(LeadStatus.business_id == tenant, LeadStatus.key.in_(dropped))
        )
    for position, item in enumerate(wanted):
        status = current.get(item.key)
        if status is None:
            status = LeadStatus(business_id=tenant, key=item.key)
            db_session.add(status)
        status.label, status.position, status.kind = item.label, position, item.kind
    audit.record(ctx, "leads.pipeline.update", business_id=tenant, details={"keys": keys})
    db_session.commit()
    return pipeline(tenant)


# ---------------------------------------------------------------- reading


def _scoped(scope: LeadScope) -> Select[Lead]:
    query = select(Lead).where(Lead.deleted_at.is_(None))
    if not isinstance(scope, AllTenants):
        query = query.where(Lead.business_id == scope)
    return query


def get_lead(scope: LeadScope, lead_id: int) -> Lead:
    """A lead of this scope; another tenant's lead is 'not found' (existence does not leak)."""
    lead = db_session.scalar(_scoped(scope).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead


def find_by_phone(tenant: TenantId, phone_e164: str) -> Lead | None:
    return db_session.scalar(select(Lead).where(Lead.business_id == tenant, Lead.phone == phone_e164))


def timeline(lead: Lead) -> list[LeadEvent]:
    return list(
        db_session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.id))
    )


_SORTS = {
    "-created_at": (Lead.created_at, True),
    "created_at": (Lead.created_at, False),
    "-updated_at": (Lead.updated_at, True),
    "updated_at": (Lead.updated_at, False),
}


def search_terms(q: str) -> str:
    """Lower-case text, or just the digits when the query looks like a phone number."""
    text = q.strip().lower()
    if text and all(ch.isdigit() or ch in "+-() " for ch in text) and any(ch.isdigit() for ch in text):
        return "".join(ch for ch in text if ch.isdigit())
    return text


def filtered(scope: LeadScope, query: LeadQuery) -> Select[Lead]:
    stmt = _scoped(scope)
    if isinstance(scope, AllTenants) and query.business_id is not None:
        stmt = stmt.where(Lead.business_id == query.business_id)
    if query.status:
        stmt = stmt.where(Lead.status.in_(query.status))
    if query.source:
        stmt = stmt.where(Lead.source.in_(query.source))
    if query.tag:
        tagged = select(LeadTag.lead_id).where(LeadTag.tag == query.tag.strip())
        if not isinstance(scope, AllTenants):
            tagged = tagged.where(LeadTag.business_id == scope)
        stmt = stmt.where(Lead.id.in_(tagged))
    if query.assignee_id is not None:
        stmt = stmt.where(Lead.assignee_id == query.assignee_id)
    if query.unassigned:
        stmt = stmt.where(Lead.assignee_id.is_(None))
    if query.created_from is not None:
        stmt = stmt.where(Lead.created_at >= query.created_from)
    if query.created_to is not None:
        stmt = stmt.where(Lead.created_at < query.created_to)
    if query.q:
        terms = search_terms(query.q)
        if terms:
            stmt = stmt.where(Lead.search_text.contains(terms, autoescape=True))
    return stmt


def listing_statement(scope: LeadScope, query: LeadQuery) -> Select[Lead]:
    """One page (plus one row, to know whether another page follows) in the requested order."""
    column, descending = _SORTS[query.sort]
    stmt = filtered(scope, query)
    if query.cursor:
        value, last_id = pagination.decode_cursor(query.cursor, scope=query.sort)
        key = tuple_(column, Lead.id)
        bound = tuple_(bindparam("cursor_at", value, type_=UTCDateTime), bindparam("cursor_id", last_id))
        stmt = stmt.where(key < bound if descending else key > bound)
    order = (column.desc(), Lead.id.desc()) if descending else (column.asc(), Lead.id.asc())
    return stmt.options(_WITH_TAGS).order_by(*order).limit(query.limit + 1)


# Each row's tags in the same query, one aggregate per row. Built once: the listing runs on every
# page of the leads table, and building this option cost about as much as running the query.
_WITH_TAGS = with_expression(
    Lead.listed_tags,
    func.coalesce(
        select(func.aggregate_strings(LeadTag.tag, TAG_SEPARATOR))
        .where(LeadTag.lead_id == Lead.id)
        .correlate(Lead)
        .scalar_subquery(),
        "",
    ),
)


def list_leads(scope: LeadScope, query: LeadQuery) -> tuple[list[Lead], str | None]:
    rows = list(db_session.scalars(listing_statement(scope, query)))
    key = _SORTS[query.sort][0].key
    return pagination.page(rows, query.limit, lambda lead: (getattr(lead, key), lead.id), scope=query.sort)


# ---------------------------------------------------------------- writing


def _phone(raw: str | None, field_name: str = "phone") -> tuple[str | None, bool, list[dict[str, str]]]:
    if raw is None or not raw.strip():
        return None, True, []
    try:
        phone = parse_phone(raw)
    except InvalidPhone as exc:
        raise ValidationFailed([{"field": field_name, "message": str(exc), "type": "phone"}]) from exc
    warnings = []
    if not phone.valid:
        warnings.append(
            {
                "field": field_name,
                "message": f"{phone.e164} has a possible length but is not an assigned number",
            }
        )
    return phone.e164, phone.valid, warnings


def _check_status(tenant: TenantId, status: str) -> str:
    if status not in status_keys(tenant):
        raise ValidationFailed(
            [
                {
                    "field": "status",
                    "message": f"'{status}' is not a status of this business's pipeline",
                    "type": "value",
                }
            ]
        )
    return status


def _check_assignee(tenant: TenantId, assignee_id: int) -> int:
    user = db_session.get(User, assignee_id)
    if user is None or user.business_id != tenant or user.role != Role.business.value or not user.is_active:
        raise ValidationFailed(
            [{"field": "assignee_id", "message": "not an active user of this business", "type": "value"}]
        )
    return assignee_id


def build_search_text(lead: Lead, note_texts: Iterable[str] = ()) -> str:
    return search_text_of(lead.full_name, lead.email, lead.notes, lead.phone, note_texts)


def search_text_of(
    full_name: str, email: str | None, notes: str, phone: str | None, note_texts: Iterable[str] = ()
) -> str:
    parts = [full_name.lower(), (email or "").lower(), notes.lower()]
    if phone:
        digits = phone.lstrip("+")
        parts.append(digits)
        if digits.startswith("972"):
            parts.append("0" + digits[3:])  # the Israeli national form people type: 0502345678
    parts.extend(text.lower() for text in note_texts)
    return "\n".join(p for p in parts if p)[:20_000]


def _refresh_search_text(lead: Lead) -> None:
    refresh_search_texts([lead])


def refresh_search_texts(leads: Sequence[Lead]) -> None:
    """Rebuild what search matches from the fields and the notes on the timeline (one query per 500)."""
    notes: dict[int, list[str]] = {lead.id: [] for lead in leads}
    ids = list(notes)
    for start in range(0, len(ids), 500):
        rows = db_session.execute(
            select(LeadEvent.lead_id, LeadEvent.text)
            .where(
                LeadEvent.lead_id.in_(ids[start : start + 500]),
                LeadEvent.kind == LeadEventKind.note_added.value,
            )
            .order_by(LeadEvent.id)
        )
        for lead_id, text in rows:
            if text:
                notes[lead_id].append(text)
    for lead in leads:
        lead.search_text = build_search_text(lead, notes[lead.id])


def _set_tags(lead: Lead, tags: Sequence[str]) -> None:
    existing = {t.tag: t for t in lead.tags}
    lead.tags = [existing.get(tag) or LeadTag(tag=tag, business_id=lead.business_id) for tag in tags]


def record_event(
    lead: Lead,
    kind: LeadEventKind,
    actor_id: int | None = None,
    text: str | None = None,
    data: dict[str, Any] | None = None,
) -> LeadEvent:
    event = LeadEvent(
        business_id=lead.business_id,
        lead_id=lead.id,
        kind=kind.value,
        actor_id=actor_id,
        text=text,
        data=data or {},
        at=utcnow(),
    )
    db_session.add(event)
    return event


def create_lead(ctx: RequestContext, tenant: TenantId, data: LeadCreateIn) -> LeadWrite:
    phone, phone_valid, warnings = _phone(data.phone)
    if phone is None and not data.email:
        raise ValidationFailed(
            [{"field": "phone", "message": "a lead needs a phone number or an email", "type": "missing"}]
        )
    status = _check_status(tenant, data.status) if data.status else status_keys(tenant)[0]
    assignee = _check_assignee(tenant, data.assignee_id) if data.assignee_id is not None else None
    if phone is not None:
        existing = find_by_phone(tenant, phone)
        if existing is not None and existing.deleted_at is None:
            raise Conflict(
                "duplicate_phone",
                f"A lead with {phone} already exists in this business (lead {existing.id}).",
                lead_id=existing.id,
            )
        if existing is not None:  # soft-deleted: bring it back instead of doubling the phone
            restore_lead(existing, "create", ctx)
            write = update_lead(
                ctx,
                tenant,
                existing.id,
                LeadPatchIn(**data.model_dump(exclude_unset=True, exclude={"source", "phone"})),
            )
            write.warnings = warnings + write.warnings
            return write
    now = utcnow()
    lead = Lead(
        business_id=tenant,
        full_name=data.full_name.strip(),
        phone=phone,
        phone_valid=phone_valid,
        email=str(data.email).lower() if data.email else None,
        source=data.source,
        status=status,
        notes=data.notes,
        assignee_id=assignee,
        created_by_id=ctx.user_id,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        status_changed_by_id=ctx.user_id,
    )
    db_session.add(lead)
    _set_tags(lead, data.tags)
    lead.search_text = build_search_text(lead)
    try:
        db_session.flush()
    except IntegrityError as exc:  # the same phone created by a concurrent request
        db_session.rollback()
        existing = find_by_phone(tenant, phone) if phone else None
        raise Conflict(
            "duplicate_phone",
            f"A lead with {phone} already exists in this business.",
            lead_id=existing.id if existing else None,
        ) from exc
    record_event(lead, LeadEventKind.created, ctx.user_id, data={"source": lead.source, "status": status})
    db_session.commit()
    return LeadWrite(lead, warnings)


def update_lead(ctx: RequestContext, tenant: TenantId, lead_id: int, data: LeadPatchIn) -> LeadWrite:
    lead = get_lead(tenant, lead_id)
    changes = data.model_dump(exclude_unset=True)
    warnings: list[dict[str, str]] = []
    changed: dict[str, Any] = {}
    if "phone" in changes:
        phone, phone_valid, warnings = _phone(data.phone)
        if phone != lead.phone:
            other = find_by_phone(tenant, phone) if phone else None
            if other is not None and other.deleted_at is not None:
                # A deleted lead gives the number up to the live one (a 409 would name a lead that
                # answers 404).
                given_up = {"changes": {"phone": [phone, None]}, "taken_by_lead": lead.id}
                record_event(other, LeadEventKind.updated, ctx.user_id, data=given_up)
                other.phone = None
                db_session.flush()  # frees the number before this lead's UPDATE takes it
            elif other is not None and other.id != lead.id:
                raise Conflict(
                    "duplicate_phone",
                    f"Lead {other.id} already has {phone}.",
                    lead_id=other.id,
                    field="phone",
                )
            changed["phone"] = [lead.phone, phone]
            lead.phone, lead.phone_valid = phone, phone_valid
    if data.full_name is not None and data.full_name.strip() != lead.full_name:
        changed["full_name"] = [lead.full_name, data.full_name.strip()]
        lead.full_name = data.full_name.strip()
        lead.name_source = NameSource.human.value  # the agents no longer overwrite it
    if "email" in changes:
        email = str(data.email).lower() if data.email else None
        if email != lead.email:
            changed["email"] = [lead.email, email]
            lead.email = email
    if data.notes is not None and data.notes != lead.notes:
        changed["notes"] = True
        lead.notes = data.notes
    if data.tags is not None and data.tags != lead.tag_names:
        changed["tags"] = [lead.tag_names, data.tags]
        _set_tags(lead, data.tags)
    if "assignee_id" in changes and data.assignee_id != lead.assignee_id:
        if data.assignee_id is not None:
            _check_assignee(tenant, data.assignee_id)
        changed["assignee_id"] = [lead.assignee_id, data.assignee_id]
        lead.assignee_id = data.assignee_id
    if data.status is not None and data.status != lead.status:
        _move(ctx, tenant, lead, data.status)
    if changed:
        record_event(lead, LeadEventKind.updated, ctx.user_id, data={"changes": changed})
        _refresh_search_text(lead)
    if changed or data.status is not None:
        lead.updated_at = utcnow()
    try:
        db_session.commit()
    except IntegrityError as exc:
        db_session.rollback()
        raise Conflict(
            "duplicate_phone", "Another lead of this business has that phone.", field="phone"
        ) from exc
    return LeadWrite(lead, warnings)


def _move(ctx: RequestContext, tenant: TenantId, lead: Lead, status: str) -> None:
    _check_status(tenant, status)
    record_event(lead, LeadEventKind.status_changed, ctx.user_id, data={"from": lead.status, "to": status})
    lead.status = status
    lead.status_changed_at = utcnow()
    lead.status_changed_by_id = ctx.user_id


def bulk_move(ctx: RequestContext, tenant: TenantId, lead_ids: Sequence[int], status: str) -> int:
    _check_status(tenant, status)
    leads = db_session.scalars(_scoped(tenant).where(Lead.id.in_(lead_ids), Lead.status != status)).all()
    now = utcnow()
    for lead in leads:
        _move(ctx, tenant, lead, status)
        lead.updated_at = now
    db_session.commit()
    return len(leads)


def add_note(ctx: RequestContext, tenant: TenantId, lead_id: int, text: str) -> LeadEvent:
    lead = get_lead(tenant, lead_id)
    event = record_event(lead, LeadEventKind.note_added, ctx.user_id, text=text)
    lead.search_text = (lead.search_text + "\n" + text.lower())[:20_000]
    lead.updated_at = utcnow()
    db_session.commit()
    return event


def delete_lead(ctx: RequestContext, tenant: TenantId, lead_id: int) -> None:
    lead = get_lead(tenant, lead_id)
    lead.deleted_at = utcnow()
    record_event(lead, LeadEventKind.deleted, ctx.user_id)
    audit.record(
        ctx,
        "lead.delete",
        business_id=tenant,
        target_type="lead",
        target_id=lead.id,
        details={"full_name": lead.full_name, "phone": lead.phone},
    )
    db_session.commit()


def restore_lead(lead: Lead, via: str, ctx: RequestContext | None = None) -> None:
    """A deleted lead comes back (the same phone was created, imported, called or wrote again):
    on the timeline and in the audit log, with a status that still exists. Does not commit."""
    lead.deleted_at = None
    data: dict[str, Any] = {"via": via}
    keys = status_keys(TenantId(lead.business_id))
    if lead.status not in keys:  # its status was removed from the pipeline while it was deleted
        data["status"] = [lead.status, keys[0]]
        lead.status = keys[0]
    record_event(lead, LeadEventKind.restored, ctx.user_id if ctx else None, data=data)
    audit.record(
        ctx, "lead.restore", business_id=lead.business_id, target_type="lead", target_id=lead.id, details=data
    )


# ---------------------------------------------------------------- the agents' entry point


def upsert_from_channel(
    tenant: TenantId,
    phone_raw: str,
    source: LeadSource,
    *,
    full_name: str | None = None,
    email: str | None = None,
    summary: str | None = None,
    inbound_at: datetime | None = None,
    replace_name: bool = False,
    replaces: str | None = None,
) -> tuple[Lead, bool]:
    """Create or update the lead of a caller/sender by phone; never a duplicate. Does not commit.

    Returns (lead, created). A name fills a blank one; with `replace_name` (a name the AI learnt
    from the customer) it also replaces a name an agent wrote before, never one a human wrote.
    Emails only fill blanks. `summary` is appended to the notes, or replaces `replaces` (the block
    this conversation wrote before) where the notes still hold it.
    """
    phone = parse_phone(phone_raw)
    name = (full_name or "").strip()[:200]
    for _attempt in range(2):
        lead = find_by_phone(tenant, phone.e164)
        if lead is not None:
            if lead.deleted_at is not None:
                restore_lead(lead, source.value)
            replaceable = not lead.full_name or (replace_name and lead.name_source == NameSource.agent.value)
            if name and name != lead.full_name and replaceable:
                lead.full_name, lead.name_source = name, NameSource.agent.value
            if email and not lead.email:
                lead.email = email.strip().lower()[:254]
            if summary:
                if replaces and replaces in lead.notes:
                    before, _old, after = lead.notes.rpartition(replaces)
                    lead.notes = (before + summary + after)[:10_000]
                elif summary not in lead.notes:
                    lead.notes = (lead.notes + "\n" + summary).strip()[:10_000]
            if inbound_at is not None and (lead.last_inbound_at is None or inbound_at > lead.last_inbound_at):
                lead.last_inbound_at = inbound_at
            lead.updated_at = utcnow()
            _refresh_search_text(lead)
            return lead, False
        lead = Lead(
            **_channel_lead_values(
                tenant, phone, source, name, email, summary, inbound_at, status_keys(tenant)[0], utcnow()
            )
        )
        try:
            with db_session.begin_nested():
                db_session.add(lead)
        except IntegrityError:
            continue  # a concurrent message from the same phone created it: update that one
        record_event(lead, LeadEventKind.created, data={"source": source.value})
        return lead, True
    raise ApiError("lead_upsert_failed", f"Could not create or find the lead for {phone.e164}.", status=500)


def _channel_lead_values(
    tenant: TenantId,
    phone: Phone,
    source: LeadSource,
    name: str,
    email: str | None,
    summary: str | None,
    inbound_at: datetime | None,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    """The row of a lead that a caller or sender creates (upsert_from_channel, insert_channel_lead)."""
    values: dict[str, Any] = {
        "business_id": tenant,
        "full_name": name,
        "name_source": NameSource.agent.value,
        "phone": phone.e164,
        "phone_valid": phone.valid,
        "email": email.strip().lower()[:254] if email else None,
        "source": source.value,
        "status": status,
        "notes": (summary or "")[:10_000],
        "last_inbound_at": inbound_at,
        "created_at": now,
        "updated_at": now,
        "status_changed_at": now,
    }
    values["search_text"] = search_text_of(name, values["email"], values["notes"], phone.e164)
    return values


_lead_rows, _event_rows, _status_rows = (cast(Table, m.__table__) for m in (Lead, LeadEvent, LeadStatus))
_FIRST_STATUS = (
    select(_status_rows.c.key)
    .where(_status_rows.c.business_id == bindparam("p_tenant"))
    .order_by(_status_rows.c.position)
    .limit(1)
)
INSERT_EVENT = insert(_event_rows)
_INSERT_NEW_LEAD = {
    dialect: statement.returning(_lead_rows.c.id)
    for dialect, statement in insert_or_nothing(_lead_rows, "business_id", "phone").items()
}


def event_row(
    tenant: TenantId, lead_id: int, kind: LeadEventKind, data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """A timeline row for INSERT_EVENT (the Core twin of record_event, for the webhook's hot path)."""
    return {"business_id": tenant, "lead_id": lead_id, "kind": kind.value, "data": data, "at": at}


def insert_channel_lead(
    connection: Connection,
    tenant: TenantId,
    phone: Phone,
    source: LeadSource,
    *,
    full_name: str,
    inbound_at: datetime,
    now: datetime,
) -> int | None:
    """A first-time sender's lead and its "created" event in three Core statements, for the WhatsApp
    webhook (upsert_from_channel builds and flushes ORM objects: ~1 ms more). None when the number
    already has a lead: upsert_from_channel updates that one."""
    status = connection.execute(_FIRST_STATUS, {"p_tenant": tenant}).scalar() or status_keys(tenant)[0]
    values = _channel_lead_values(
        tenant, phone, source, full_name.strip()[:200], None, None, inbound_at, status, now
    )
    lead_id: int | None = connection.execute(_INSERT_NEW_LEAD[connection.dialect.name], values).scalar()
    if lead_id is not None:
        connection.execute(
            INSERT_EVENT, event_row(tenant, lead_id, LeadEventKind.created, {"source": source.value}, now)
        )
    return lead_id


def touch_inbound(tenant: TenantId, lead_id: int, at: datetime) -> None:
    db_session.execute(
        update(Lead)
        .where(
            Lead.id == lead_id,
            Lead.business_id == tenant,
            or_(Lead.last_inbound_at.is_(None), Lead.last_inbound_at < at),
        )
        .values(last_inbound_at=at)
    )


def count_by_status(tenant: TenantId) -> dict[str, int]:
    rows = db_session.execute(
        select(Lead.status, func.count())
        .where(and_(Lead.business_id == tenant, Lead.deleted_at.is_(None)))
        .group_by(Lead.status)
    ).all()
    return {status: count for status, count in rows}
