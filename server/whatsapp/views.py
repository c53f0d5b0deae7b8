"""/api/conversations/** (the WhatsApp inbox) and POST /api/leads/<id>/whatsapp."""

from __future__ import annotations

from flask import Blueprint

from server.auth.context import current_context
from server.db import utcnow
from server.validation import body_of, endpoint, query_of
from server.whatsapp import service
from server.whatsapp.models import Conversation, Delivery, Message
from server.whatsapp.schemas import (
    ConversationDetail,
    ConversationList,
    ConversationOut,
    ConversationQuery,
    MessageOut,
    MessagesQuery,
    TemplateIn,
    TextIn,
)

bp = Blueprint("whatsapp", __name__, url_prefix="/api")
TAGS = ("whatsapp",)


def message_out(message: Message) -> MessageOut:
    return MessageOut.model_validate(message, from_attributes=True)


def conversation_out(conversation: Conversation, has_failed: bool) -> ConversationOut:
    now = utcnow()
    ends = conversation.last_inbound_at + service.WINDOW if conversation.last_inbound_at else None
    return ConversationOut(
        id=conversation.id,
        customer_name=conversation.customer_name,
        customer_phone=conversation.customer_phone,
        customer_user_id=conversation.customer_user_id,
        lead_id=conversation.lead_id,
        no_lead_reason=service.no_lead_reason(conversation),
        provider=conversation.provider,
        ai_paused=conversation.ai_paused,
        paused_at=conversation.paused_at,
        paused_by_id=conversation.paused_by_id,
        unread_count=conversation.unread_count,
        last_read_at=conversation.last_read_at,
        last_message_at=conversation.last_message_at,
        last_inbound_at=conversation.last_inbound_at,
        last_preview=conversation.last_preview,
        has_failed=has_failed,
        window_open=service.within_window(conversation, now),
        window_ends_at=ends,
    )


def _one(conversation: Conversation) -> ConversationOut:
    failed = service.failed_conversation_ids(current_context().tenant, [conversation.id])
    return conversation_out(conversation, conversation.id in failed)


@bp.get("/conversations")
@endpoint(query=ConversationQuery, resp=ConversationList, tags=TAGS)
def list_conversations() -> ConversationList:
    query: ConversationQuery = query_of(ConversationQuery)
    tenant = current_context().tenant
    filters = service.ConversationFilters(
        unread=query.unread, ai_paused=query.ai_paused, failed=query.failed, q=query.q, lead_id=query.lead_id
    )
    rows, next_cursor = service.list_conversations(tenant, filters, query.cursor, query.limit)
    failed = service.failed_conversation_ids(tenant, [c.id for c in rows])
    return ConversationList(
        items=[conversation_out(c, c.id in failed) for c in rows], next_cursor=next_cursor
    )


@bp.get("/conversations/<int:conversation_id>")
@endpoint(query=MessagesQuery, resp=ConversationDetail, tags=TAGS)
def get_conversation(conversation_id: int) -> ConversationDetail:
    query: MessagesQuery = query_of(MessagesQuery)
    conversation = service.get_conversation(current_context().tenant, conversation_id)
    messages, older = service.messages_page(conversation, query.before_id, query.limit)
    head = _one(conversation)
    return ConversationDetail(
        **head.model_dump(), messages=[message_out(m) for m in messages], older_before_id=older
    )


@bp.post("/conversations/<int:conversation_id>/messages")
@endpoint(json=TextIn, resp=MessageOut, status=201, tags=TAGS)
def send_message(conversation_id: int) -> tuple[MessageOut, int]:
    ctx = current_context()
    data: TextIn = body_of(TextIn)
    return _created(service.send_text(ctx, ctx.tenant, conversation_id, data.text))


@bp.post("/conversations/<int:conversation_id>/template")
@endpoint(json=TemplateIn, resp=MessageOut, status=201, tags=TAGS)
def send_template(conversation_id: int) -> tuple[MessageOut, int]:
    ctx = current_context()
    data: TemplateIn = body_of(TemplateIn)
    return _created(
        service.send_template(ctx, ctx.tenant, conversation_id, data.name, data.language, data.params)
    )


@bp.post("/leads/<int:lead_id>/whatsapp")
@endpoint(json=TextIn, resp=MessageOut, status=201, tags=TAGS)
def send_to_lead(lead_id: int) -> tuple[MessageOut, int]:
    ctx = current_context()
    data: TextIn = body_of(TextIn)
    return _created(service.send_text_to_lead(ctx, ctx.tenant, lead_id, data.text))


@bp.post("/conversations/<int:conversation_id>/messages/<int:message_id>/retry")
@endpoint(resp=MessageOut, tags=TAGS)
def retry_message(conversation_id: int, message_id: int) -> MessageOut:
    """A failed message sent again (queued anew), or a failed AI reply asked for again."""
    ctx = current_context()
    message = service.retry_message(ctx, ctx.tenant, conversation_id, message_id)
    out = message_out(message)
    if message.status == Delivery.queued.value:
        service.start_delivery(message.id)
    return out


def _created(message: Message) -> tuple[MessageOut, int]:
    out = message_out(message)  # the row as queued; the send runs in the background after the commit
    service.start_delivery(message.id)
    return out, 201


@bp.post("/conversations/<int:conversation_id>/pause")
@endpoint(resp=ConversationOut, tags=TAGS)
def pause(conversation_id: int) -> ConversationOut:
    ctx = current_context()
    return _one(service.set_paused(ctx, ctx.tenant, conversation_id, True))


@bp.post("/conversations/<int:conversation_id>/resume")
@endpoint(resp=ConversationOut, tags=TAGS)
def resume(conversation_id: int) -> ConversationOut:
    ctx = current_context()
    return _one(service.set_paused(ctx, ctx.tenant, conversation_id, False))


@bp.post("/conversations/<int:conversation_id>/read")
@endpoint(resp=ConversationOut, tags=TAGS)
def mark_read(conversation_id: int) -> ConversationOut:
    return _one(service.mark_read(current_context().tenant, conversation_id))
