"""Outbound WhatsApp messages through the conversation's provider, retried with backoff, then failed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from huey import crontab
from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from server import crypto
from server.business.models import Business
from server.db import db_session, utcnow
from server.jobs import job, on_consumer_start, periodic
from server.leads import service as leads
from server.leads.models import Lead, LeadEventKind
from server.providers import meta_whatsapp, twilio_whatsapp
from server.providers.whatsapp_common import ProviderError, SendResult
from server.settings import Settings
from server.whatsapp import service
from server.whatsapp.models import Author, Conversation, Delivery, Direction, Message, Provider

log = logging.getLogger(__name__)

RETRIES = 4  # 2 s, 4 s, 8 s, 16 s apart
RETRY_DELAY = 2
# After being queued, every try and its backoff are long over by then (~2 min with 15 s send timeouts).
STALE_SEND = timedelta(minutes=10)
SWEEP_BATCH = 500


@job(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2, context=True)
def deliver_message(message_id: int, task: Any = None) -> str:
    return deliver(message_id, final=task is None or not task.retries)


@on_consumer_start
@periodic(crontab(minute="*"))
def sweep_stranded_sends() -> int:
    """Messages still queued without a provider id long after they were queued (a crash lost the job).

    Never tried: send now. Tried: the send was cut off and may have reached the customer, so it is
    not repeated blindly; it fails with that reason and a person can retry it from the inbox.
    """
    now = utcnow()
    stale = db_session.execute(
        select(Message.id, Message.attempts)
        .where(
            Message.status == Delivery.queued.value,
            Message.direction == Direction.outbound.value,
            Message.provider_message_id.is_(None),
            Message.status_at < now - STALE_SEND,
        )
        .order_by(Message.status_at)
        .limit(SWEEP_BATCH)
    ).all()
    never_tried = [message_id for message_id, attempts in stale if not attempts]
    interrupted = [message_id for message_id, attempts in stale if attempts]
    if interrupted:
        db_session.execute(
            update(Message)
            .where(
                Message.id.in_(interrupted),
                Message.status == Delivery.queued.value,
                Message.provider_message_id.is_(None),
            )
            .values(
                status=Delivery.failed.value,
                status_at=now,
                error_code="send_interrupted",
                error_message="The send was interrupted (the server stopped during it); it may have reached "
                "the customer: check before you retry it.",
            )
            .execution_options(synchronize_session=False)
        )
    db_session.commit()
    for message_id in never_tried:
        deliver_message(message_id)
    if stale:
        log.warning(
            "send sweep: %s never-tried message(s) sent, %s interrupted one(s) failed",
            len(never_tried),
            len(interrupted),
        )
    return len(stale)


def deliver_now(message_id: int) -> str:
    """First attempt inline (the AI reply is already late enough); later ones as the job, with backoff."""
    try:
        return deliver(message_id, final=False)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the job retries and then fails visibly
        db_session.rollback()
        log.warning(
            "whatsapp send of message %s: first attempt failed (%s); retrying as a job", message_id, exc
        )
        deliver_message.schedule(args=(message_id,), delay=RETRY_DELAY)
        return "retrying"


def deliver(message_id: int, *, final: bool) -> str:
    """Send one queued message; raises ProviderError for a retryable failure unless this is the last try."""
    settings = crypto.active_settings()
    message = db_session.get(Message, message_id)
    if message is None or message.status != Delivery.queued.value or message.provider_message_id:
        return "done"
    conversation = db_session.get(Conversation, message.conversation_id)
    # Its numbers (a selectin relationship, one more query) are not needed to send.
    business = db_session.get(Business, message.business_id, options=[lazyload(Business.numbers)])
    if conversation is None or business is None:
        return "done"
    message.attempts += 1
    db_session.commit()  # no connection held across the provider's round trip
    try:
        result = _send(settings, business, conversation, message)
    except Exception as raised:  # every failure: a retry, or a visible failed message
        exc = _as_provider_error(message_id, raised)
        if exc.retryable and not final:
            message.error_code, message.error_message = exc.code, f"retrying: {exc.message}"
            db_session.commit()
            log.warning("whatsapp send of message %s failed, will retry: %s", message_id, exc.message)
            if exc is raised:
                raise
            raise exc from raised
        message.status = Delivery.failed.value
        message.status_at = utcnow()
        message.error_code = exc.code or "provider_error"
        message.error_message = exc.message
        db_session.commit()
        log.error("whatsapp send of message %s failed for good: %s", message_id, exc.message)
        return "failed"
    message.provider_message_id = result.provider_message_id
    message.error_code = message.error_message = None
    db_session.flush()
    service.apply_status(message.id, result.status, None, None)
    if message.author == Author.user.value and conversation.lead_id is not None:
        lead = db_session.get(Lead, conversation.lead_id)
        if lead is not None:
            leads.record_event(
                lead,
                LeadEventKind.whatsapp_sent,
                actor_id=message.sent_by_id,
                text=message.text,
                data={"conversation_id": conversation.id, "message_id": message.id},
            )
    db_session.commit()
    # After the commit: a callback that missed the id while we were committing is applied now.
    service.apply_early_statuses(message.provider, result.provider_message_id)
    return "sent"


def _as_provider_error(message_id: int, exc: Exception) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, crypto.EncryptionKeyError):
        return ProviderError(
            f"the Meta access token cannot be used: {exc}", retryable=False, code="encryption_key"
        )
    log.exception("whatsapp send of message %s: unexpected error", message_id)
    return ProviderError(
        f"unexpected error while sending: {type(exc).__name__}: {exc}"[:2000],
        retryable=True,
        code="internal_error",
    )


def _send(settings: Settings, business: Business, conversation: Conversation, message: Message) -> SendResult:
    template = message.template or {}
    if conversation.provider == Provider.twilio.value:
        if not conversation.customer_phone:
            raise ProviderError(
                "Twilio can only write to a phone number", retryable=False, code="no_recipient"
            )
        base = settings.public_base_url.rstrip("/")
        callback = f"{base}/webhook/whatsapp/twilio/status" if base else None
        if message.kind == "template":
            return twilio_whatsapp.send(
                settings,
                from_number=conversation.business_address,
                to_number=conversation.customer_phone,
                content_sid=str(template.get("name", "")),
                content_variables=[str(p) for p in template.get("params", [])],
                status_callback=callback,
            )
        return twilio_whatsapp.send(
            settings,
            from_number=conversation.business_address,
            to_number=conversation.customer_phone,
            body=message.text,
            status_callback=callback,
        )
    if not business.meta_access_token_encrypted:
        raise ProviderError("no Meta access token is set for this business", retryable=False, code="config")
    token = crypto.decrypt(business.meta_access_token_encrypted, settings)
    # Meta reaches a customer who hides the number by their business-scoped user id.
    to, user_id = conversation.customer_phone, conversation.customer_user_id
    if message.kind == "template":
        return meta_whatsapp.send_template(
            settings,
            conversation.business_address,
            token,
            to,
            user_id,
            str(template.get("name", "")),
            str(template.get("language", "he")),
            [str(p) for p in template.get("params", [])],
        )
    return meta_whatsapp.send_text(settings, conversation.business_address, token, to, user_id, message.text)
