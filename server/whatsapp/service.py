"""WhatsApp: intake of webhooks (idempotent), conversations, the inbox, sends under the 24-hour rule.

Inbox functions take the TenantId the guard resolved; intake functions find the tenant from the
provider's routing key (the number or phone_number_id the customer wrote to).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement, Exists

from server import pagination
from server.auth.context import RequestContext, TenantId
from server.business.models import Business, BusinessNumber, NumberKind
from server.db import UTCDateTime, db_session, insert_or_nothing, utcnow
from server.errors import Conflict, NotFound, ValidationFailed
from server.leads import service as leads
from server.leads.models import Lead, LeadEventKind, LeadSource
from server.phones import parse_phone
from server.whatsapp.intake import InboundMessage, StatusUpdate
from server.whatsapp.models import (
    DELIVERY_RANK,
    Author,
    Conversation,
    Delivery,
    Direction,
    InboundEvent,
    Message,
    Provider,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
# An armed reply that nobody took for this long (a worker died) may be armed again.
STALE_ARM = timedelta(minutes=2)


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class Routed:
    """The business a delivery is for: all the intake needs of it (one row, no ORM object)."""

    id: int
    is_active: bool


# The webhook's statements are built once (with bind parameters) and run on the tables: building an
# ORM statement and its cache key per delivery cost more than running it (bench/whatsapp.py).
_businesses, _numbers, _conversations, _messages, _events, _leads = (
    cast(Table, model.__table__)
    for model in (Business, BusinessNumber, Conversation, Message, InboundEvent, Lead)
)
_ROUTE_BY_NUMBER = (
    select(_businesses.c.id, _businesses.c.is_active)
    .join(_numbers, _numbers.c.business_id == _businesses.c.id)
    .where(_numbers.c.kind == NumberKind.whatsapp.value, _numbers.c.number == bindparam("address"))
)
_ROUTE_BY_SERVICE = select(_businesses.c.id, _businesses.c.is_active).where(
    _businesses.c.twilio_messaging_service_sid == bindparam("address")
)
_ROUTE_BY_PHONE_NUMBER_ID = select(_businesses.c.id, _businesses.c.is_active).where(
    _businesses.c.meta_phone_number_id == bindparam("address")
)


def _route(statement: Select[Any], address: str) -> Routed | None:
    row = db_session.connection().execute(statement, {"address": address}).first()
    return Routed(row.id, row.is_active) if row else None


def business_for_twilio(to_number: str, messaging_service_sid: str | None) -> Routed | None:
    """By the number the customer wrote to; the Messaging Service only as a second key."""
    routed = _route(_ROUTE_BY_NUMBER, to_number)
    if routed is None and messaging_service_sid:
        routed = _route(_ROUTE_BY_SERVICE, messaging_service_sid)
    return routed


def business_for_meta(phone_number_id: str) -> Routed | None:
    return _route(_ROUTE_BY_PHONE_NUMBER_ID, phone_number_id) if phone_number_id else None


# ---------------------------------------------------------------- intake


@dataclass
class Ingested:
    duplicate: bool
    conversation_id: int | None = None
    message_id: int | None = None
    arm_reply: bool = False


def _at(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def _later(column: Any, at: Any) -> Any:
    """SQL: `at` when it is later than the column (or the column is empty), else the column."""
    return case((or_(column.is_(None), column < at), at), else_=column)


_INSERT_EVENT = insert(_events)
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_RECORD_INBOUND_VALUES = {
    "unread_count": _conversations.c.unread_count + 1,
    "last_message_at": _at("p_now"),
    "last_preview": bindparam("p_preview"),
    "last_inbound_received_at": _at("p_now"),
    "provider": bindparam("p_provider"),
    "business_address": bindparam("p_address"),
    "updated_at": _at("p_now"),
    "last_inbound_at": _later(_conversations.c.last_inbound_at, _at("p_sent")),
}
_ARM_VALUE = case(
    (
        and_(
            _conversations.c.ai_paused.is_(False),
            or_(
                _conversations.c.reply_armed_at.is_(None),
                _conversations.c.reply_armed_at < _at("p_stale"),
            ),
        ),
        _at("p_now"),
    ),
    else_=_conversations.c.reply_armed_at,
)
_BY_ID = _conversations.c.id == bindparam("p_id")
_BY_CUSTOMER = and_(
    _conversations.c.business_id == bindparam("p_tenant"), _conversations.c.customer_key == bindparam("p_key")
)


# What the intake needs of the customer's conversation, returned by the statement that writes it.
_RETURNED = (
    _conversations.c.id,
    _conversations.c.lead_id,
    _conversations.c.customer_phone,
    _conversations.c.customer_user_id,
    _conversations.c.customer_name,
    _conversations.c.reply_armed_at,
)


def _record_inbound(where: ColumnElement[bool], arm: bool) -> Any:
    """One UPDATE of the conversation for an inbound line (counters, preview, the 24-hour window, and
    with `arm` the reply), returning what the intake needs of it: by customer it replaces the SELECT."""
    values = {**_RECORD_INBOUND_VALUES, **({"reply_armed_at": _ARM_VALUE} if arm else {})}
    return update(_conversations).where(where).values(**values).returning(*_RETURNED)


_RECORD_INBOUND = {
    (by_customer, arm): _record_inbound(_BY_CUSTOMER if by_customer else _BY_ID, arm)
    for by_customer in (True, False)
    for arm in (True, False)
}
_INSERT_CONVERSATION = {
    dialect: statement.returning(*_RETURNED)
    for dialect, statement in insert_or_nothing(_conversations, "business_id", "customer_key").items()
}
_USER_ID_TAKEN = select(_conversations.c.id).where(
    _conversations.c.business_id == bindparam("p_tenant"),
    _conversations.c.customer_user_id == bindparam("p_user"),
)
_TOUCH_LEAD = (
    update(_leads)
    .where(
        _leads.c.id == bindparam("p_id"),
        _leads.c.business_id == bindparam("p_tenant"),
        _leads.c.phone == bindparam("p_phone"),
        _leads.c.deleted_at.is_(None),
    )
    .values(last_inbound_at=_later(_leads.c.last_inbound_at, _at("p_at")), updated_at=_at("p_now"))
    .returning(_leads.c.full_name)
)


def ingest_message(business: Routed | Business, inbound: InboundMessage) -> Ingested:
    """Store one inbound message exactly once; returns whether a reply should be armed.

    The intake row, the message, the conversation and the lead change commit together, so a
    redelivery (or the same message racing on another connection) fails on the unique key and
    does nothing. Any other integrity error is raised: the webhook answers 5xx and is retried.

    The webhook's hot path: a known customer of a known lead costs four prepared statements on the
    connection and no ORM objects (the event; one UPDATE of the customer's conversation that also
    arms the reply and returns the row; the message; one UPDATE of the lead). A number writing for
    the first time is Core inserts too (_new_customer). A new name or user id, a lead that changed,
    or a first message from a number that already has a lead take the full path (_conversation_for,
    _link_lead).
    """
    tenant = TenantId(business.id)
    now = utcnow()
    sent_at = min(inbound.sent_at or now, now)
    provider = inbound.provider.value
    params: dict[str, Any] = {
        "p_tenant": tenant,
        "p_key": inbound.customer_phone,
        "p_now": now,
        "p_sent": sent_at,
        "p_stale": now - STALE_ARM,
        "p_preview": inbound.text[:200],
        "p_provider": provider,
        "p_address": inbound.business_address,
    }
    arm_reply = business.is_active
    try:
        connection = db_session.connection()  # Core statements: the ORM's execute layer is not needed
        connection.execute(
            _INSERT_EVENT,
            {
                "provider": provider,
                "provider_message_id": inbound.provider_message_id,
                "kind": "message",
                "business_id": business.id,
                "received_at": now,
                "processed": True,
            },
        )
        row = None
        lead_touched = False
        if inbound.customer_phone:
            row = connection.execute(_RECORD_INBOUND[True, arm_reply], params).first()
            if row is None:
                row = _new_customer(connection, tenant, inbound, params, arm_reply)
                lead_touched = row is not None
        conversation: Conversation | None = None
        if row is None or _needs_filling(row, inbound):
            conversation = _conversation_for(tenant, inbound, now, phone_absent=row is None)
            db_session.flush()
            if row is None:
                row = connection.execute(
                    _RECORD_INBOUND[False, arm_reply], {**params, "p_id": conversation.id}
                ).one()
        message_id = connection.execute(
            _INSERT_MESSAGE,
            {
                "business_id": business.id,
                "conversation_id": row.id,
                "direction": Direction.inbound.value,
                "author": Author.customer.value,
                "provider": provider,
                "provider_message_id": inbound.provider_message_id,
                "kind": inbound.kind,
                "text": inbound.text,
                "media": inbound.media or None,
                "status": Delivery.received.value,
                "provider_timestamp": inbound.sent_at,
                "created_at": now,
                "status_at": now,
            },
        ).scalar_one()
        arm = arm_reply and row.reply_armed_at == now
        phone = conversation.customer_phone if conversation is not None else row.customer_phone
        if not lead_touched and not _touch_lead(tenant, row.lead_id, phone, inbound, sent_at, now):
            if conversation is None:
                conversation = db_session.get(Conversation, row.id)
            assert conversation is not None
            _link_lead(tenant, conversation, inbound, sent_at)
        db_session.commit()
    except IntegrityError:
        db_session.rollback()
        if _already_received(provider, inbound.provider_message_id):
            return Ingested(duplicate=True)
        log.error(
            "%s message %s: an integrity error that is not a redelivery; answering 5xx so it is retried",
            provider,
            inbound.provider_message_id,
        )
        raise
    return Ingested(duplicate=False, conversation_id=row.id, message_id=message_id, arm_reply=arm)


def _new_customer(
    connection: Connection, tenant: TenantId, inbound: InboundMessage, params: dict[str, Any], arm: bool
) -> Row[Any] | None:
    """A number writing for the first time: its lead, then its conversation (holding this message's
    counters, linked), then the link on the lead's timeline, in Core statements without savepoints.
    None when the full path must run instead: the number already has a lead, the WhatsApp user id
    already has a conversation (a username customer showing the number), or a message racing this
    one created the conversation first."""
    assert inbound.customer_phone is not None
    if (
        inbound.customer_user_id
        and connection.execute(
            _USER_ID_TAKEN, {"p_tenant": tenant, "p_user": inbound.customer_user_id}
        ).first()
    ):
        return None
    now = params["p_now"]
    lead_id = leads.insert_channel_lead(
        connection,
        tenant,
        parse_phone(inbound.customer_phone),
        LeadSource.whatsapp,
        full_name=inbound.customer_name,
        inbound_at=params["p_sent"],
        now=now,
    )
    if lead_id is None:
        return None
    row = connection.execute(
        _INSERT_CONVERSATION[connection.dialect.name],
        {
            "business_id": tenant,
            "customer_key": inbound.customer_phone,
            "customer_phone": inbound.customer_phone,
            "customer_user_id": inbound.customer_user_id,
            "customer_name": inbound.customer_name,
            "lead_id": lead_id,
            "provider": params["p_provider"],
            "business_address": params["p_address"],
            "unread_count": 1,
            "last_message_at": now,
            "last_preview": params["p_preview"],
            "last_inbound_at": params["p_sent"],
            "last_inbound_received_at": now,
            "reply_armed_at": now if arm else None,
            "created_at": now,
            "updated_at": now,
        },
    ).first()
    if row is None:  # the conversation came first: the full path links it to the new lead
        return None
    data = {"conversation_id": row.id, "provider": params["p_provider"]}
    connection.execute(
        leads.INSERT_EVENT, leads.event_row(tenant, lead_id, LeadEventKind.conversation_linked, data, now)
    )
    return row


def _needs_filling(row: Row[Any], inbound: InboundMessage) -> bool:
    """The customer's conversation lacks what this message shows (their number, user id or name)."""
    return bool(
        row.customer_phone is None
        or (inbound.customer_user_id and not row.customer_user_id)
        or (inbound.customer_name and not row.customer_name)
    )


def _touch_lead(
    tenant: TenantId,
    lead_id: int | None,
    phone: str | None,
    inbound: InboundMessage,
    at: datetime,
    now: datetime,
) -> bool:
    """The linked lead's last inbound, in one UPDATE; False when the full path must run (no lead yet,
    deleted, another number, or a name to fill)."""
    if phone is None:
        return True  # a username without a number has no lead until the number appears
    if lead_id is None:
        return False
    params = {"p_id": lead_id, "p_tenant": tenant, "p_phone": phone, "p_at": at, "p_now": now}
    name = db_session.connection().execute(_TOUCH_LEAD, params).scalar()
    return name is not None and bool(name or not inbound.customer_name.strip())


def _conversation_for(
    tenant: TenantId, inbound: InboundMessage, now: datetime, *, phone_absent: bool = False
) -> Conversation:
    """The customer's conversation: by phone, else by WhatsApp user id; merged when both appear.
    `phone_absent`: the caller just found no conversation under the customer's number."""
    by_phone = by_user = None
    if inbound.customer_phone and not phone_absent:
        by_phone = _find_conversation(tenant, inbound.customer_phone)
    if inbound.customer_user_id:
        by_user = db_session.scalar(
            select(Conversation).where(
                Conversation.business_id == tenant, Conversation.customer_user_id == inbound.customer_user_id
            )
        )
    conversation = by_phone or by_user
    if conversation is not None:
        if inbound.customer_phone and conversation.customer_phone is None:
            # The customer showed the number: the username conversation becomes the phone one.
            conversation.customer_phone = inbound.customer_phone
            conversation.customer_key = inbound.customer_phone
        if inbound.customer_user_id and not conversation.customer_user_id:
            conversation.customer_user_id = inbound.customer_user_id
        if inbound.customer_name and not conversation.customer_name:
            conversation.customer_name = inbound.customer_name
        return conversation
    key = inbound.customer_phone or inbound.customer_user_id
    if not key:
        raise ValueError(f"message {inbound.provider_message_id} names no sender")
    conversation = Conversation(
        business_id=tenant,
        customer_key=key,
        customer_phone=inbound.customer_phone,
        customer_user_id=inbound.customer_user_id,
        customer_name=inbound.customer_name,
        provider=inbound.provider.value,
        business_address=inbound.business_address,
        last_message_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        with db_session.begin_nested():
            db_session.add(conversation)
    except IntegrityError:  # the same customer's other message created it a moment ago
        found = _find_conversation(tenant, key)
        if found is None:
            raise
        return found
    return conversation


def _find_conversation(tenant: TenantId, key: str) -> Conversation | None:
    return db_session.scalar(
        select(Conversation).where(Conversation.business_id == tenant, Conversation.customer_key == key)
    )


def _link_lead(tenant: TenantId, conversation: Conversation, inbound: InboundMessage, at: datetime) -> None:
    """The sender becomes (or updates) a lead; the timeline says so once per conversation."""
    if not conversation.customer_phone:
        return  # a username without a number: no lead until the number appears
    lead, _created = leads.upsert_from_channel(
        tenant,
        conversation.customer_phone,
        LeadSource.whatsapp,
        full_name=inbound.customer_name or None,
        inbound_at=at,
    )
    db_session.flush()
    if conversation.lead_id != lead.id:
        conversation.lead_id = lead.id
        leads.record_event(
            lead,
            LeadEventKind.conversation_linked,
            data={"conversation_id": conversation.id, "provider": inbound.provider.value},
        )


def _armable(now: datetime) -> ColumnElement[bool]:
    """A conversation whose reply may be armed: the AI not paused, no reply armed (or a stale one)."""
    return and_(
        Conversation.ai_paused.is_(False),
        or_(Conversation.reply_armed_at.is_(None), Conversation.reply_armed_at < now - STALE_ARM),
    )


def _arm(conversation_id: int, now: datetime) -> bool:
    """Mark the conversation as needing an AI reply; True when this call armed it (schedule the job)."""
    result = db_session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, _armable(now))
        .values(reply_armed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def ingest_status(business_id: int | None, status: StatusUpdate) -> bool:
    """Record one delivery status once and apply it; returns False for a duplicate."""
    message = _message_of(status.provider.value, status.message_ref)
    message_id = message.id if message else None
    provider_event_id = f"{status.message_ref}:{status.raw_status}"[:200]
    db_session.add(
        InboundEvent(
            provider=status.provider.value,
            provider_message_id=provider_event_id,
            kind="status",
            business_id=message.business_id if message else business_id,
            message_ref=status.message_ref,
            status=status.status,
            error_code=status.error_code,
            error_message=status.error_message,
            processed=message_id is not None or status.status is None,
        )
    )
    try:
        db_session.flush()
        if message_id is not None and status.status is not None:
            apply_status(message_id, status.status, status.error_code, status.error_message)
        db_session.commit()
    except IntegrityError:
        db_session.rollback()
        if _already_received(status.provider.value, provider_event_id):
            return False
        log.error(
            "%s status %s: an integrity error that is not a redelivery",
            status.provider.value,
            provider_event_id,
        )
        raise
    if message_id is None and status.status is not None:
        # Our send may have committed this id after we looked (and before it could see this event).
        apply_early_statuses(status.provider.value, status.message_ref)
    return True


def _message_of(provider: str, provider_message_id: str) -> Row[int, int] | None:
    """(id, business_id) of our message with this provider id, if we stored it yet."""
    return db_session.execute(
        select(Message.id, Message.business_id).where(
            Message.provider == provider, Message.provider_message_id == provider_message_id
        )
    ).first()


# SQL: the rank of a message's current status (DELIVERY_RANK), -1 for inbound ones.
status_rank = case(DELIVERY_RANK, value=Message.status, else_=-1)


def apply_status(message_id: int, status: str, error_code: str | None, error_message: str | None) -> bool:
    """Move a message's delivery status forward only; True when it changed.

    One conditional UPDATE, so two callbacks applying at once cannot move it backwards.
    """
    values: dict[str, Any] = {"status": status, "status_at": utcnow()}
    if status == Delivery.failed.value:
        known = _error_text(error_code)
        both = f"{known} ({error_message})" if known and error_message else None
        values.update(error_code=error_code, error_message=both or known or error_message)
    result = db_session.execute(
        update(Message)
        .where(Message.id == message_id, status_rank < DELIVERY_RANK.get(status, -1))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def apply_early_statuses(provider: str, provider_message_id: str) -> None:
    """Apply the statuses stored before their message was known, and commit.

    Both the send (after committing the provider's id) and the status callback (after committing
    its event) call this: whichever commits second sees the other's row, so none is lost.
    """
    message = _message_of(provider, provider_message_id)
    if message is None:
        db_session.commit()
        return
    early = db_session.execute(
        select(
            InboundEvent.id, InboundEvent.status, InboundEvent.error_code, InboundEvent.error_message
        ).where(
            InboundEvent.provider == provider,
            InboundEvent.message_ref == provider_message_id,
            InboundEvent.processed.is_(False),
        )
    ).all()
    for event_id, status, error_code, error_message in early:
        if status:
            apply_status(message.id, status, error_code, error_message)
        db_session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id)
            .values(processed=True, business_id=message.business_id)
            .execution_options(synchronize_session=False)
        )
    db_session.commit()


def _already_received(provider: str, provider_message_id: str) -> bool:
    """After an IntegrityError: is it because this delivery's intake row exists (a real duplicate)?"""
    return bool(
        db_session.scalar(
            select(
                exists().where(
                    InboundEvent.provider == provider, InboundEvent.provider_message_id == provider_message_id
                )
            )
        )
    )


def _error_text(code: str | None) -> str | None:
    known = {
        "63016": "Outside the 24-hour window: send an approved template.",
        "131047": "Outside the 24-hour window: send an approved template.",
        "131026": "The message could not be delivered to this number.",
        "130429": "Rate limited by WhatsApp.",
    }
    return known.get(code or "")


# ---------------------------------------------------------------- the inbox


@dataclass
class ConversationFilters:
    unread: bool | None = None
    ai_paused: bool | None = None
    failed: bool | None = None
    q: str | None = None
    lead_id: int | None = None


def _scoped(tenant: TenantId) -> Select[Conversation]:
    return select(Conversation).where(Conversation.business_id == tenant)


def get_conversation(tenant: TenantId, conversation_id: int) -> Conversation:
    """Another business's conversation is 'not found': existence does not leak."""
    conversation = db_session.scalar(_scoped(tenant).where(Conversation.id == conversation_id))
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    return conversation


def _resolved() -> ColumnElement[bool]:
    """A failed message is resolved once a later outbound one got through (accepted by the provider and
    not failed since), or when it is resent (then it is no longer failed)."""
    later = aliased(Message)
    return exists().where(
        later.conversation_id == Message.conversation_id,
        later.id > Message.id,
        later.direction == Direction.outbound.value,
        later.provider_message_id.is_not(None),
        later.status != Delivery.failed.value,
    )


def _has_failed() -> Exists:
    """The conversation has an unresolved failure (the inbox's 'failed' filter and flag)."""
    return exists().where(
        Message.business_id == Conversation.business_id,
        Message.conversation_id == Conversation.id,
        Message.status == Delivery.failed.value,
        ~_resolved(),
    )


def list_conversations(
    tenant: TenantId, filters: ConversationFilters, cursor: str | None, limit: int
) -> tuple[list[Conversation], str | None]:
    stmt = _scoped(tenant)
    if filters.unread is not None:
        stmt = stmt.where(Conversation.unread_count > 0 if filters.unread else Conversation.unread_count == 0)
    if filters.ai_paused is not None:
        stmt = stmt.where(Conversation.ai_paused.is_(filters.ai_paused))
    if filters.failed is not None:
        stmt = stmt.where(_has_failed() if filters.failed else ~_has_failed())
    if filters.lead_id is not None:
        stmt = stmt.where(Conversation.lead_id == filters.lead_id)
    if filters.q and filters.q.strip():
        text = filters.q.strip()
        digits = "".join(ch for ch in text if ch.isdigit())
        # autoescape: a % or _ the user typed is a character to find, not a wildcard.
        conditions = [
            func.lower(Conversation.customer_name).contains(text.lower(), autoescape=True),
            Conversation.last_preview.contains(text, autoescape=True),
        ]
        if len(digits) >= 3:
            local = digits[1:] if digits.startswith("0") else digits  # 050-... finds +97250...
            conditions.append(Conversation.customer_phone.contains(local))
        stmt = stmt.where(or_(*conditions))
    if cursor:
        at, last_id = pagination.decode_cursor(cursor)
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(at, last_id))
    rows = list(
        db_session.scalars(
            stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1)
        )
    )
    return pagination.page(rows, limit, lambda conversation: (conversation.last_message_at, conversation.id))


def failed_conversation_ids(tenant: TenantId, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    rows = db_session.scalars(
        select(Message.conversation_id)
        .where(
            Message.business_id == tenant,
            Message.conversation_id.in_(ids),
            Message.status == Delivery.failed.value,
            ~_resolved(),
        )
        .distinct()
    )
    return set(rows)


def messages_page(
    conversation: Conversation, before_id: int | None, limit: int
) -> tuple[list[Message], int | None]:
    """The newest `limit` messages (before `before_id`), oldest first; and the cursor for older ones."""
    stmt = select(Message).where(
        Message.business_id == conversation.business_id, Message.conversation_id == conversation.id
    )
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    rows = list(db_session.scalars(stmt.order_by(Message.id.desc()).limit(limit + 1)))
    older = rows[limit - 1].id if len(rows) > limit else None
    return list(reversed(rows[:limit])), older


def set_paused(ctx: RequestContext, tenant: TenantId, conversation_id: int, paused: bool) -> Conversation:
    conversation = get_conversation(tenant, conversation_id)
    if conversation.ai_paused == paused:
        return conversation
    conversation.ai_paused = paused
    conversation.paused_at = utcnow() if paused else None
    conversation.paused_by_id = ctx.user_id if paused else None
    now = utcnow()
    arm = False
    if paused:
        conversation.reply_armed_at = None
    elif _unanswered_exists(conversation) and within_window(conversation, now):
        # Back to the AI: what the customer wrote since the last answer gets one.
        db_session.flush()
        arm = _arm(conversation.id, now)
    db_session.commit()
    if arm:
        from server.whatsapp import replies

        replies.schedule_reply(conversation.id)
    return conversation


def _unanswered_exists(conversation: Conversation) -> bool:
    return bool(
        db_session.scalar(
            select(
                exists().where(
                    Message.conversation_id == conversation.id,
                    Message.direction == Direction.inbound.value,
                    Message.id > conversation.answered_through_id,
                )
            )
        )
    )


def mark_read(tenant: TenantId, conversation_id: int) -> Conversation:
    conversation = get_conversation(tenant, conversation_id)
    conversation.unread_count = 0
    conversation.last_read_at = utcnow()
    db_session.commit()
    return conversation


# ---------------------------------------------------------------- sends from people


def can_write_to(conversation: Conversation) -> bool:
    """A number reaches the customer on either provider; a username's user id only on Meta."""
    return bool(
        conversation.customer_phone
        or (conversation.customer_user_id and conversation.provider == Provider.meta.value)
    )


NO_LEAD_YET = (
    "The customer hides their number behind a WhatsApp username: the lead is created when the number "
    "appears (leads are one per phone)."
)


def no_lead_reason(conversation: Conversation) -> str | None:
    return NO_LEAD_YET if conversation.lead_id is None and not conversation.customer_phone else None


def within_window(conversation: Conversation | None, now: datetime) -> bool:
    return bool(conversation and conversation.last_inbound_at and now - conversation.last_inbound_at < WINDOW)


def template_route(conversation_id: int) -> str:
    return f"POST /api/conversations/{conversation_id}/template"


def send_text(ctx: RequestContext, tenant: TenantId, conversation_id: int, text: str) -> Message:
    conversation = get_conversation(tenant, conversation_id)
    return _queue_text(ctx, conversation, text)


def send_text_to_lead(ctx: RequestContext, tenant: TenantId, lead_id: int, text: str) -> Message:
    """POST /api/leads/<id>/whatsapp: free text to the lead's WhatsApp, inside the 24-hour window."""
    lead = leads.get_lead(tenant, lead_id)
    conversation = conversation_for_lead(tenant, lead)
    return _queue_text(ctx, conversation, text)


def conversation_for_lead(tenant: TenantId, lead: Lead) -> Conversation:
    """The lead's conversation, opened on the business's WhatsApp channel if there is none yet."""
    conversation = db_session.scalar(
        _scoped(tenant).where(Conversation.lead_id == lead.id).order_by(Conversation.last_message_at.desc())
    )
    if conversation is None and lead.phone:
        conversation = _find_conversation(tenant, lead.phone)
    if conversation is not None:
        return conversation
    if not lead.phone:
        raise Conflict("lead_has_no_phone", f"Lead {lead.id} has no phone number to write to on WhatsApp.")
    business = db_session.get(Business, tenant)
    channel = _channel_of(business) if business else None
    if channel is None:
        raise Conflict(
            "whatsapp_not_configured",
            "This business has no WhatsApp number yet (an admin sets whatsapp_numbers or Meta's number).",
        )
    now = utcnow()
    conversation = Conversation(
        business_id=tenant,
        customer_key=lead.phone,
        customer_phone=lead.phone,
        customer_name=lead.full_name,
        lead_id=lead.id,
        provider=channel[0].value,
        business_address=channel[1],
        last_message_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        with db_session.begin_nested():
            db_session.add(conversation)
    except IntegrityError:
        found = _find_conversation(tenant, lead.phone)
        if found is None:
            raise
        return found
    leads.record_event(lead, LeadEventKind.conversation_linked, data={"conversation_id": conversation.id})
    db_session.commit()
    return conversation


def _channel_of(business: Business) -> tuple[Provider, str] | None:
    if business.meta_phone_number_id and business.meta_access_token_encrypted:
        return Provider.meta, business.meta_phone_number_id
    numbers = business.numbers_of(NumberKind.whatsapp)
    if numbers:
        return Provider.twilio, numbers[0]
    return None


def _queue_text(ctx: RequestContext, conversation: Conversation, text: str) -> Message:
    now = utcnow()
    require_window(conversation, now)
    message = _new_outbound(ctx, conversation, kind="text", text=text, now=now)
    # A person answered: what the customer wrote so far needs no AI reply.
    latest = db_session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation.id, Message.direction == Direction.inbound.value
        )
    )
    conversation.answered_through_id = max(conversation.answered_through_id, latest or 0)
    return _commit_and_deliver(ctx, conversation, message)


def require_window(conversation: Conversation, now: datetime) -> None:
    """The 24-hour rule for free text (a person's or the AI's)."""
    if not within_window(conversation, now):
        last = conversation.last_inbound_at
        raise Conflict(
            "outside_24h_window",
            (
                f"The customer last wrote at {last.isoformat()}, more than 24 hours ago"
                if last
                else "The customer has not written on WhatsApp yet"
            )
            + f": free text is not allowed; send an approved template: {template_route(conversation.id)}.",
            conversation_id=conversation.id,
            last_inbound_at=last.isoformat() if last else None,
            template_route=template_route(conversation.id),
            template_body={"name": "<template name>", "language": "he", "params": []},
        )


def send_template(
    ctx: RequestContext, tenant: TenantId, conversation_id: int, name: str, language: str, params: list[str]
) -> Message:
    """An approved template: allowed at any time (Twilio: `name` is the Content SID, HX...)."""
    conversation = get_conversation(tenant, conversation_id)
    if conversation.provider == Provider.twilio.value and not name.startswith("HX"):
        raise ValidationFailed(
            [{"field": "name", "message": "on Twilio a template is its Content SID (HX...)", "type": "value"}]
        )
    preview = f"[{name}] " + " | ".join(params) if params else f"[{name}]"
    message = _new_outbound(
        ctx,
        conversation,
        kind="template",
        text=preview,
        now=utcnow(),
        template={"name": name, "language": language, "params": params},
    )
    return _commit_and_deliver(ctx, conversation, message)


def retry_message(ctx: RequestContext, tenant: TenantId, conversation_id: int, message_id: int) -> Message:
    """A failed send is sent again (the same row, queued anew); a failed AI reply asks the AI again.

    Free text (and an AI reply) obeys the 24-hour rule; a template may be resent at any time.
    """
    conversation = get_conversation(tenant, conversation_id)
    message = db_session.scalar(
        select(Message).where(
            Message.id == message_id,
            Message.business_id == tenant,
            Message.conversation_id == conversation.id,
        )
    )
    if message is None:
        raise NotFound("message", message_id)
    if message.direction != Direction.outbound.value or message.status != Delivery.failed.value:
        raise Conflict(
            "not_failed", f"Message {message_id} is {message.status}: only a failed message is retried."
        )
    now = utcnow()
    if message.kind != "template":
        require_window(conversation, now)
    if message.kind == "ai_reply":
        return _retry_ai_reply(conversation, message, now)
    # Only the request that moves it from failed to queued sends it: two clicks send once.
    requeued = db_session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == Delivery.failed.value)
        .values(
            status=Delivery.queued.value,
            status_at=now,
            provider_message_id=None,
            error_code=None,
            error_message=None,
            attempts=0,
        )
        .execution_options(synchronize_session=False)
    )
    if not requeued.rowcount:  # type: ignore[attr-defined]
        db_session.rollback()
        raise Conflict("not_failed", f"Message {message_id} is being retried already.")
    db_session.refresh(message)
    return _commit_and_deliver(ctx, conversation, message)


def _retry_ai_reply(conversation: Conversation, failure: Message, now: datetime) -> Message:
    if conversation.ai_paused:
        raise Conflict("ai_paused", "The AI is paused for this conversation: resume it, or answer yourself.")
    if not _unanswered_exists(conversation):
        raise Conflict(
            "nothing_to_answer", "Everything the customer wrote has been answered since this failure."
        )
    armed = _arm(conversation.id, now)
    db_session.commit()
    if armed:  # else a reply is on its way already
        from server.whatsapp import replies

        replies.schedule_reply(conversation.id)
    return db_session.get(Message, failure.id, populate_existing=True) or failure


def _new_outbound(
    ctx: RequestContext | None,
    conversation: Conversation,
    *,
    kind: str,
    text: str,
    now: datetime,
    template: dict[str, Any] | None = None,
    author: Author = Author.user,
) -> Message:
    message = Message(
        business_id=conversation.business_id,
        conversation_id=conversation.id,
        direction=Direction.outbound.value,
        author=author.value,
        sent_by_id=ctx.user_id if ctx else None,
        provider=conversation.provider,
        kind=kind,
        text=text,
        template=template,
        status=Delivery.queued.value,
        created_at=now,
        status_at=now,
    )
    db_session.add(message)
    conversation.last_message_at = now
    conversation.last_preview = text[:200]
    return message


def _commit_and_deliver(ctx: RequestContext, conversation: Conversation, message: Message) -> Message:
    db_session.flush()
    if conversation.lead_id is not None:
        lead = db_session.get(Lead, conversation.lead_id)
        if lead is not None:
            leads.record_event(
                lead,
                LeadEventKind.whatsapp_queued,
                actor_id=ctx.user_id,
                text=message.text,
                data={"conversation_id": conversation.id, "message_id": message.id, "kind": message.kind},
            )
    db_session.commit()
    return message


def start_delivery(message_id: int) -> None:
    """After the commit that queued the message: send it in the background (with retries)."""
    from server.whatsapp import delivery

    delivery.deliver_message(message_id)


def unanswered_inbound(conversation: Conversation) -> list[Message]:
    return list(
        db_session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == Direction.inbound.value,
                Message.id > conversation.answered_through_id,
            )
            .order_by(Message.id)
        )
    )


def history(conversation: Conversation, limit: int, through_id: int | None = None) -> list[Message]:
    """The last `limit` messages for the AI, oldest first, the unanswered ones last; the customer's
    only up to `through_id` when given (the lines the reply answers: on PostgreSQL a line can land
    between counting them and reading the history, and it would be answered twice).

    A line that came in while an answer was being written has a smaller id than that answer; in id
    order the AI would take it as answered already. Nothing after answered_through_id is, so those
    go after every answer.
    """
    inbound: ColumnElement[bool] = Message.direction == Direction.inbound.value
    if through_id is not None:
        inbound = and_(inbound, Message.id <= through_id)
    rows = db_session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            or_(
                inbound,
                # What we said: not a failed AI reply's empty row, nor a message that never arrived.
                and_(
                    Message.direction == Direction.outbound.value,
                    Message.text != "",
                    Message.kind != "ai_reply",
                    Message.status != Delivery.failed.value,
                ),
            ),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    ordered = list(reversed(list(rows)))

    def unanswered(message: Message) -> bool:
        return message.direction == Direction.inbound.value and message.id > conversation.answered_through_id

    return [m for m in ordered if not unanswered(m)] + [m for m in ordered if unanswered(m)]
