"""The AI reply: the business's whatsapp_prompt, the conversation so far, the lead's known fields, and a
save_lead tool, through the official openai library. Runs as a background job, never in a webhook.

Pacing: an inbound message arms its conversation; the reply waits until the customer has been quiet
for WHATSAPP_REPLY_DEBOUNCE_SECONDS, then answers every unanswered message at once. A message that
arrives while the answer is being written shows a burst: that answer is dropped, and the burst is
answered once the customer has been quiet for WHATSAPP_REPLY_BURST_QUIET_SECONDS. Either way at most
WHATSAPP_REPLY_MAX_WAIT_SECONDS after the first message (then the newer lines get a follow-up).
With separate consumers (REDIS_URL) the reply is a Huey job from the start. Inside the gunicorn
worker a greenlet timer runs it right when the quiet period ends (Huey's scheduler only ticks once a
second), and a durable Huey job, one for each second's armed conversations, due after the longest
wait, backs them up: it finds nothing left to do unless the worker died first. Its replies give way
to the worker's requests (yield_to_requests).
"""

from __future__ import annotations

import atexit
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from huey import crontab
from sqlalchemy import func, or_, select, update

from server import crypto
from server.auth.context import TenantId
from server.business import service as business_service
from server.business.models import Business
from server.concurrency import under_gevent, yield_to_requests
from server.db import db_session, utcnow
from server.jobs import huey, job, on_consumer_start, periodic
from server.leads import service as leads
from server.leads.models import Lead, LeadEventKind, LeadSource
from server.providers import openai_chat
from server.providers.openai_chat import AIError, ChatAnswer
from server.settings import Settings
from server.whatsapp import delivery, service
from server.whatsapp.models import Author, Conversation, Delivery, Direction, Message

log = logging.getLogger(__name__)

RETRIES = 3  # 2 s, 4 s, 8 s apart, then the reply is marked failed in the inbox
RETRY_DELAY = 2
MAX_TOOL_ROUNDS = 3
MAX_REGENERATIONS = 2  # answers dropped for a burst before one is sent anyway
SWEEP_BATCH = 500
MAX_UNANSWERED = 200  # the customer's lines one answer reads at most (a bound on the prompt)
BACKSTOP_GRACE = 10  # seconds after a greenlet's longest wait that its durable backup checks on it

DEFAULT_PROMPT = (
    "את/ה עונה בוואטסאפ בשם העסק {business}. ענו בשפת הלקוח (עברית כברירת מחדל), בהודעות קצרות וחמות."
)

SAVE_LEAD_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "save_lead",
        "description": (
            "Save what you learnt about the customer to the business's CRM: their name, email, and what "
            "they need. Call it as soon as you learn any of these; call it again when you learn more."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "full_name": {"type": "string", "description": "The customer's full name"},
                "email": {"type": "string", "description": "The customer's email address"},
                "summary": {
                    "type": "string",
                    "description": "What the customer needs and when it suits them, in one or two sentences",
                },
            },
            "required": [],
            "additionalProperties": False,
        },
    },
}


# ---------------------------------------------------------------- scheduling


def schedule_reply(conversation_id: int) -> None:
    """Called after the commit that armed the conversation."""
    settings = crypto.active_settings()
    delay = settings.whatsapp_reply_debounce_seconds
    if huey.immediate or delay <= 0:
        reply_to_conversation(conversation_id)
        return
    if settings.run_embedded_consumer and under_gevent():
        import gevent

        gevent.spawn_later(delay, _reply_in_greenlet, conversation_id)
        _back_up(conversation_id)
        return
    reply_to_conversation.schedule(args=(conversation_id,), delay=delay)


# The greenlets' durable backup (the worker may die before one replies): the conversations armed in
# this worker within one BACKUP_BATCH_SECONDS go to the job store as one check_replies job, due after
# the longest wait their greenlets can take. One job per conversation, scheduled with the debounce,
# ran (and rescheduled itself) beside every waiting greenlet: 9 % of the worker's time at 200
# messages/s; scheduled after the longest wait, each still cost several job-store commits (enqueue,
# dequeue, schedule, run). A worker that dies within the batch's second leaves those conversations
# to the minute's sweep of stranded replies (STALE_ARM).
BACKUP_BATCH_SECONDS = 1.0
_backups: list[int] = []


def _back_up(conversation_id: int) -> None:
    import gevent

    if not _backups:
        gevent.spawn_later(BACKUP_BATCH_SECONDS, _flush_backups)
    _backups.append(conversation_id)


@atexit.register
def _flush_backups() -> None:
    """Write the batch (also when the worker stops: a deploy's restart loses no backup)."""
    if not _backups:
        return
    ids = sorted(set(_backups))
    _backups.clear()
    settings = crypto.active_settings()
    armed_before = utcnow()
    after = (
        settings.whatsapp_reply_debounce_seconds + settings.whatsapp_reply_max_wait_seconds + BACKSTOP_GRACE
    )
    try:
        check_replies.schedule(args=(ids, armed_before.isoformat()), delay=after)
    except Exception:  # the sweep of stranded replies still finds them
        log.exception("could not back up the replies of %s conversation(s)", len(ids))


@job(retries=RETRIES, retry_delay=RETRY_DELAY)
def check_replies(conversation_ids: list[int], armed_before: str) -> int:
    """The backup of a batch of greenlet replies: a conversation of the batch still armed since then
    (not armed again: its newer arming has its own backup) with no attempt writing is answered now."""
    now = utcnow()
    stranded = db_session.scalars(
        select(Conversation.id).where(
            Conversation.id.in_(conversation_ids),
            Conversation.reply_armed_at <= datetime.fromisoformat(armed_before),
            Conversation.ai_paused.is_(False),
            or_(Conversation.reply_lease_until.is_(None), Conversation.reply_lease_until < now),
        )
    ).all()
    db_session.commit()
    for conversation_id in stranded:
        reply_to_conversation(conversation_id)
    if stranded:
        log.warning("reply backup: %s conversation(s) were not answered by their greenlet", len(stranded))
    return len(stranded)


_slots: Any = None  # the worker's reply slots (a gevent semaphore), made at the first reply


def _reply_slots() -> Any:
    """At most WHATSAPP_REPLY_CONCURRENCY replies at once in this worker. Without a limit, the
    replies coming due together took the core from the webhooks: at 200 messages/s (bench/whatsapp.py)
    acknowledgements p50 49 -> 7 ms, p99 598 -> 312 ms with 32 slots."""
    global _slots
    if _slots is None:
        from gevent.lock import BoundedSemaphore

        _slots = BoundedSemaphore(crypto.active_settings().whatsapp_reply_concurrency)
    return _slots


def _reply_in_greenlet(conversation_id: int) -> None:
    slots = _reply_slots()

    def sleep_without_the_slot(seconds: float) -> None:  # waiting for quiet takes no slot
        slots.release()
        try:
            time.sleep(seconds)
        finally:
            slots.acquire()

    try:
        with slots:
            # Giving way to requests keeps the slot: released there too, every ready reply wrote at
            # once and a saturated worker fell further behind (bench/whatsapp.py: 94 % of a core,
            # 462 lines still unanswered 10 s after the load stopped).
            attempt_reply(conversation_id, final=False, wait=True, sleep=sleep_without_the_slot)
    except Exception as exc:  # noqa: BLE001 - the durable job takes over with its retries
        log.warning("AI reply for conversation %s failed (%s); retrying as a job", conversation_id, exc)
        reply_to_conversation.schedule(args=(conversation_id,), delay=RETRY_DELAY)
    finally:
        db_session.remove()


@job(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2, context=True)
def reply_to_conversation(conversation_id: int, task: Any = None) -> str:
    return attempt_reply(conversation_id, final=task is None or not task.retries, wait=False)


@on_consumer_start
@periodic(crontab(minute="*"))
def sweep_stranded_replies() -> int:
    """Conversations armed long ago with no live lease (their job was lost in a crash): arm again."""
    now = utcnow()
    stranded = db_session.scalars(
        select(Conversation.id)
        .where(
            Conversation.reply_armed_at < now - service.STALE_ARM,
            Conversation.ai_paused.is_(False),
            or_(Conversation.reply_lease_until.is_(None), Conversation.reply_lease_until < now),
        )
        .order_by(Conversation.reply_armed_at)
        .limit(SWEEP_BATCH)
    ).all()
    db_session.commit()
    armed = 0
    for conversation_id in stranded:
        if service._arm(conversation_id, now):
            db_session.commit()
            schedule_reply(conversation_id)
            armed += 1
        else:
            db_session.commit()
    if armed:
        log.warning("reply sweep re-armed %s stranded conversation(s)", armed)
    return armed


# ---------------------------------------------------------------- one attempt


def attempt_reply(
    conversation_id: int, *, final: bool, wait: bool, sleep: Callable[[float], None] = time.sleep
) -> str:
    """Answer what the customer wrote, once. Raises AIError (to be retried) unless `final`.

    With `wait`, it sleeps (`sleep`) until the customer has been quiet; else it schedules itself then.
    Before each stretch of CPU it lets the worker's requests go first (yield_to_requests).
    """
    settings = crypto.active_settings()
    dropped = 0
    while True:
        yield_to_requests()
        conversation = db_session.get(Conversation, conversation_id, populate_existing=True)
        if conversation is None or conversation.reply_armed_at is None:
            db_session.commit()
            return "idle"
        if conversation.ai_paused:
            conversation.reply_armed_at = None
            db_session.commit()
            return "paused"
        now = utcnow()
        deadline = conversation.reply_armed_at + timedelta(seconds=settings.whatsapp_reply_max_wait_seconds)
        wake = min(_quiet_at(settings, conversation, now), deadline)
        db_session.commit()  # hold no transaction (nor an SQLite read snapshot) while waiting
        if now < wake:
            if not wait:
                reply_to_conversation.schedule(args=(conversation_id,), eta=wake)
                return "waiting"
            sleep((wake - now).total_seconds())
            continue

        if not service.can_write_to(conversation):
            # No AI call for a reply that could only fail: the inbox shows why instead.
            _record_failure(conversation, UnreachableCustomer())
            db_session.commit()
            return "unreachable"

        lease = now + timedelta(seconds=settings.whatsapp_ai_timeout_seconds * (MAX_TOOL_ROUNDS + 1) + 60)
        claimed = db_session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                or_(Conversation.reply_lease_until.is_(None), Conversation.reply_lease_until < now),
            )
            .values(reply_lease_until=lease)
        )
        db_session.commit()
        if not claimed.rowcount:  # type: ignore[attr-defined]
            # Another attempt is writing (it answers what came in meanwhile), or a worker died holding
            # the lease: look again when the lease ends, so a dead worker strands nobody.
            held = db_session.scalar(
                select(Conversation.reply_lease_until).where(Conversation.id == conversation_id)
            )
            db_session.commit()
            reply_to_conversation.schedule(args=(conversation_id,), eta=(held or now) + timedelta(seconds=1))
            return "busy"
        # Read again under the lease: what was read above may predate another attempt that answered
        # and let go of the lease meanwhile (answering from it would answer the same lines twice).
        conversation = db_session.get(Conversation, conversation_id, populate_existing=True)
        if conversation is None or conversation.reply_armed_at is None or conversation.ai_paused:
            _release(conversation_id)
            db_session.commit()
            continue  # the top of the loop says what is left to do (most often: nothing)

        try:
            answer, through_id = _compose(settings, conversation)
        except Exception as exc:  # retried, then a failed row in the inbox
            db_session.rollback()
            _release(conversation_id)
            db_session.commit()
            if not isinstance(exc, AIError):
                log.exception("AI reply for conversation %s: unexpected error", conversation_id)
            if not final:
                log.warning("AI reply for conversation %s failed, will retry: %s", conversation_id, exc)
                raise
            _record_failure(conversation, exc)
            db_session.commit()
            log.error("AI reply for conversation %s failed for good: %s", conversation_id, exc)
            return "failed"
        yield_to_requests()
        if (
            answer is not None
            and _latest_inbound_id(conversation_id) != through_id
            and utcnow() < deadline
            and dropped < MAX_REGENERATIONS
        ):
            # The customer wrote again while the AI was writing: they are typing a burst. Drop this
            # answer and answer the whole burst once they pause (the burst quiet period).
            dropped += 1
            _release(conversation_id)
            db_session.commit()
            continue
        break

    conversation = db_session.get(Conversation, conversation_id, populate_existing=True)
    assert conversation is not None
    message = None
    if answer is not None and answer.text and not conversation.ai_paused:
        now = utcnow()
        message = Message(
            business_id=conversation.business_id,
            conversation_id=conversation.id,
            direction=Direction.outbound.value,
            author=Author.ai.value,
            provider=conversation.provider,
            kind="text",
            text=answer.text,
            status=Delivery.queued.value,
            created_at=now,
            status_at=now,
        )
        db_session.add(message)
        conversation.last_message_at = now
        conversation.last_preview = answer.text[:200]
    conversation.answered_through_id = max(conversation.answered_through_id, through_id)
    conversation.reply_armed_at = None
    conversation.reply_lease_until = None
    db_session.commit()
    if message is not None:
        yield_to_requests()
        delivery.deliver_now(message.id)
        yield_to_requests()
    _follow_up(conversation_id)
    return "replied" if message is not None else "nothing"


def _release(conversation_id: int) -> None:
    db_session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(reply_lease_until=None)
    )


def _follow_up(conversation_id: int) -> None:
    """What the customer wrote after the messages just answered gets its own reply."""
    conversation = db_session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None or conversation.ai_paused or not service.unanswered_inbound(conversation):
        db_session.commit()
        return
    armed = service._arm(conversation_id, utcnow())
    db_session.commit()
    if armed:
        schedule_reply(conversation_id)


class UnreachableCustomer(Exception):
    """The conversation's provider has no address for this customer (a username on Twilio)."""


def _record_failure(conversation: Conversation, exc: Exception) -> None:
    """No answer is lost silently: a failed AI reply shows in the conversation and under 'failed'."""
    now = utcnow()
    if isinstance(exc, UnreachableCustomer):
        code = "no_recipient"
        why = f"Not answered: {conversation.provider} cannot write to a customer who shows no phone number."
    elif isinstance(exc, AIError):
        code, why = exc.code, f"The AI did not answer after {RETRIES + 1} attempts: {exc}"
    else:
        code, why = (
            "internal_error",
            f"The AI reply could not be written ({RETRIES + 1} attempts): {type(exc).__name__}: {exc}",
        )
    db_session.add(
        Message(
            business_id=conversation.business_id,
            conversation_id=conversation.id,
            direction=Direction.outbound.value,
            author=Author.ai.value,
            provider=conversation.provider,
            kind="ai_reply",
            text="",
            status=Delivery.failed.value,
            error_code=code,
            error_message=why[:2000],
            created_at=now,
            status_at=now,
        )
    )
    db_session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(reply_armed_at=None, reply_lease_until=None, updated_at=now)
    )


# ---------------------------------------------------------------- the conversation with the AI


def _latest_inbound_id(conversation_id: int) -> int:
    return (
        db_session.scalar(
            select(func.max(Message.id)).where(
                Message.conversation_id == conversation_id, Message.direction == Direction.inbound.value
            )
        )
        or 0
    )


def _compose(settings: Settings, conversation: Conversation) -> tuple[ChatAnswer | None, int]:
    """The answer to every unanswered message, and the id of the last one it answers."""
    unanswered = service.unanswered_inbound(conversation)
    if not unanswered:
        return None, conversation.answered_through_id
    through_id = unanswered[-1].id
    return _ask(settings, conversation, through_id, len(unanswered)), through_id


def _quiet_at(settings: Settings, conversation: Conversation, now: datetime) -> datetime:
    """When the customer will have been quiet long enough: the debounce after a message; the longer
    burst quiet period when their last two unanswered lines came close together (they are typing)."""
    quiet = settings.whatsapp_reply_debounce_seconds
    burst = settings.whatsapp_reply_burst_quiet_seconds
    received = db_session.scalars(
        select(Message.created_at)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.inbound.value,
            Message.id > conversation.answered_through_id,
        )
        .order_by(Message.id.desc())
        .limit(2)
    ).all()
    if len(received) == 2 and received[0] - received[1] < timedelta(seconds=burst):
        quiet = max(quiet, burst)
    return (conversation.last_inbound_received_at or now) + timedelta(seconds=quiet)


def build_messages(
    settings: Settings, conversation: Conversation, through_id: int | None = None, unanswered: int = 0
) -> list[dict[str, Any]]:
    """What the AI is given: the prompt, what is known, and the conversation up to the customer's line
    `through_id` (a line that came after the unanswered ones were counted is the next reply's): the
    `unanswered` lines (up to MAX_UNANSWERED) and WHATSAPP_AI_HISTORY_MESSAGES messages before them.
    With the setting alone, a customer who wrote more lines than it before an answer (while the AI was
    paused, or replies fell behind: bench/whatsapp.py at 367/s) had the first of them never read."""
    tenant = TenantId(conversation.business_id)
    business = db_session.execute(
        select(Business.name, Business.timezone).where(Business.id == tenant)
    ).first()
    business_name = business.name if business else ""
    prompt = business_service.whatsapp_prompt_for(tenant).strip() or DEFAULT_PROMPT.format(
        business=business_name
    )
    lead = db_session.get(Lead, conversation.lead_id) if conversation.lead_id else None
    timezone = business.timezone if business else "Asia/Jerusalem"
    try:
        local_now = datetime.now(ZoneInfo(timezone))
    except (KeyError, ValueError):
        local_now = utcnow()
    known = {
        "name": (lead.full_name if lead else "") or conversation.customer_name or "unknown",
        "phone": conversation.customer_phone or "hidden (WhatsApp username)",
        "email": (lead.email if lead else None) or "unknown",
        "status in the pipeline": lead.status if lead else "not a lead yet",
        "notes": ((lead.notes if lead else "") or "none")[:1000],
    }
    context = "\n".join(f"- {key}: {value}" for key, value in known.items())
    system = (
        f"{prompt}\n\n---\nChannel: WhatsApp. Business: {business_name}. "
        f"Local time: {local_now:%Y-%m-%d %H:%M} ({timezone}).\n"
        f"What the business already knows about this customer:\n{context}\n"
        + (
            "When you learn the customer's name, email or what they need, call save_lead."
            if conversation.customer_phone
            else "Their number is hidden (a WhatsApp username), so nothing can be saved to the CRM yet."
        )
    )
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    limit = settings.whatsapp_ai_history_messages + min(unanswered, MAX_UNANSWERED)
    for item in service.history(conversation, limit, through_id):
        role = "user" if item.direction == Direction.inbound.value else "assistant"
        messages.append({"role": role, "content": item.text})
    return messages


def _ask(settings: Settings, conversation: Conversation, through_id: int, unanswered: int) -> ChatAnswer:
    messages = build_messages(settings, conversation, through_id, unanswered)
    # A customer without a number has no lead to save to (leads are one per phone) until it appears.
    tools = [SAVE_LEAD_TOOL] if conversation.customer_phone else []
    db_session.commit()  # give the connection back while the AI thinks
    answer = openai_chat.complete(settings, messages, tools)
    for _round in range(MAX_TOOL_ROUNDS):
        if not answer.tool_calls:
            break
        messages.append(answer.assistant_message())
        for call in answer.tool_calls:
            result = _run_tool(conversation, call.name, call.arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        db_session.commit()
        answer = openai_chat.complete(settings, messages, tools)
    # An answer with nothing to send is a failed answer (retried, then shown), not a silent one.
    if answer.tool_calls:
        raise AIError(f"the AI still asked for tools after {MAX_TOOL_ROUNDS} rounds", code="ai_tool_loop")
    if not answer.text:
        raise AIError("the AI answered with no text", code="ai_empty_answer")
    return answer


def _run_tool(conversation: Conversation, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name != "save_lead":
        return {"ok": False, "error": f"unknown tool {name}"}
    if not conversation.customer_phone:
        return {"ok": False, "error": "the customer's phone number is hidden; nothing to save it under"}
    full_name = str(arguments.get("full_name") or "").strip()[:200] or None
    email = str(arguments.get("email") or "").strip()[:254] or None
    if email and ("@" not in email or " " in email):
        email = None
    summary = str(arguments.get("summary") or "").strip()[:2000] or None
    lead, _created = leads.upsert_from_channel(
        TenantId(conversation.business_id),
        conversation.customer_phone,
        LeadSource.whatsapp,
        full_name=full_name,
        email=email,
        summary=summary,
        replace_name=True,  # the AI learnt it from the customer: it may correct what an agent wrote
    )
    db_session.flush()
    saved = {k: v for k, v in {"full_name": full_name, "email": email, "summary": summary}.items() if v}
    leads.record_event(
        lead, LeadEventKind.updated, text=summary, data={"by": "whatsapp_ai", "fields": sorted(saved)}
    )
    if conversation.lead_id != lead.id:
        db_session.execute(
            update(Conversation).where(Conversation.id == conversation.id).values(lead_id=lead.id)
        )
    db_session.commit()
    return {"ok": True, "lead_id": lead.id, "saved": sorted(saved)}
