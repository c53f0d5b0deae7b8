"""Calls: the webhook's bookkeeping, the stream's start, leads from calls, the call log.

The bridge (server/calls/bridge.py) reaches these through `off_loop()`, never from its relay loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select, tuple_

from server import pagination
from server.auth.context import TenantId
from server.business.models import Business, BusinessNumber, NumberKind
from server.business.service import calls_prompt_for
from server.calls import tokens
from server.calls.dbthread import call_database_thread, database_blocks
from server.calls.models import FINAL_STATUSES, AiOutcome, Call, CallStatus
from server.calls.schemas import CallQuery
from server.db import UTCDateTime, db_session, in_own_session, utcnow
from server.errors import NotFound, ValidationFailed
from server.leads.models import Lead, LeadEventKind, LeadSource
from server.leads.service import record_event, upsert_from_channel
from server.phones import InvalidPhone, parse_phone

log = logging.getLogger(__name__)
T = TypeVar("T")

# Caller ids Twilio reports for withheld numbers: never a lead's phone.
_ANONYMOUS = {"anonymous", "restricted", "unavailable", "unknown", "private", "+266696687", "+86282452253"}
CAPTURED_FIELDS = ("name", "phone", "reason", "preferred_callback_time", "summary")


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run a call's database work with a session of its own, off the audio path.

    PostgreSQL: in the calling greenlet (a webhook, the stream's start, a tool-call greenlet, a
    Huey job), never the relay loop's: psycopg waits cooperatively under gevent. SQLite under
    gevent: on the call-database thread (server/calls/dbthread.py), since its calls block in C.
    """
    thread = call_database_thread()
    if thread is not None and database_blocks():
        return thread.run(fn, *args)
    return in_own_session(fn, *args)


# ---------------------------------------------------------------- the voice webhook


def business_for_number(dialled: str) -> Business | None:
    try:
        number = parse_phone(dialled).e164
    except InvalidPhone:
        return None
    return db_session.scalar(
        select(Business)
        .join(BusinessNumber, BusinessNumber.business_id == Business.id)
        .where(BusinessNumber.kind == NumberKind.voice.value, BusinessNumber.number == number)
    )


@dataclass(frozen=True)
class IncomingAnswer:
    business_id: int | None
    refusal: str | None  # "unknown_number" | "inactive_business" | "bad_request"


def register_incoming(form: Mapping[str, str]) -> IncomingAnswer:
    """Find the business by the dialled number and open (or find, on Twilio's retry) the call row."""
    call_sid = (form.get("CallSid") or "").strip()
    if not call_sid or len(call_sid) > 64:
        return IncomingAnswer(None, "bad_request")
    business = business_for_number(form.get("To") or "")
    if business is None:
        return IncomingAnswer(None, "unknown_number")
    if not business.is_active:
        return IncomingAnswer(None, "inactive_business")
    call = db_session.scalar(select(Call).where(Call.call_sid == call_sid))
    if call is None:
        now = utcnow()
        status = form.get("CallStatus") or CallStatus.ringing.value
        db_session.add(
            Call(
                business_id=business.id,
                call_sid=call_sid,
                from_number=(form.get("From") or "")[:64],
                to_number=(form.get("To") or "")[:64],
                direction=(form.get("Direction") or "inbound")[:16],
                caller_name=(form.get("CallerName") or "")[:200],
                status=status if status in CallStatus._value2member_map_ else CallStatus.ringing.value,
                started_at=now,
                created_at=now,
                updated_at=now,
                status_events=[{"status": status, "at": now.isoformat(), "source": "voice_webhook"}],
            )
        )
        db_session.commit()
    elif call.business_id != business.id:
        return IncomingAnswer(None, "bad_request")
    return IncomingAnswer(business.id, None)


def record_status(form: Mapping[str, str]) -> bool:
    """A Twilio status callback; statuses never move back from a final one."""
    call = db_session.scalar(select(Call).where(Call.call_sid == (form.get("CallSid") or "")))
    if call is None:
        return False
    status = form.get("CallStatus") or ""
    if status not in CallStatus._value2member_map_:
        return False
    now = utcnow()
    event: dict[str, Any] = {"status": status, "at": now.isoformat(), "source": "status_callback"}
    duration = form.get("CallDuration")
    if duration and duration.isdigit():
        event["duration"] = int(duration)
        call.duration_seconds = int(duration)  # Twilio's count is the billed truth
    call.status_events = [*call.status_events, event]
    if call.status not in FINAL_STATUSES:
        call.status = status
    if status in FINAL_STATUSES and call.ended_at is None:
        call.ended_at = now
    call.updated_at = now
    db_session.commit()
    return True


# ---------------------------------------------------------------- the media stream


class StreamRefused(Exception):
    pass


@dataclass(frozen=True)
class StreamSetup:
    tenant: TenantId
    call_id: int
    call_sid: str
    from_number: str
    to_number: str
    prompt: str


def begin_stream(
    secret_key: str, ttl_seconds: int, business_param: str, token: str, call_sid: str, stream_sid: str
) -> StreamSetup:
    """Check the call token against the stream's start and load the prompt fresh from the database."""
    grant = tokens.verify(secret_key, token, ttl_seconds)
    if grant is None or str(grant.business_id) != business_param or grant.call_sid != call_sid:
        raise StreamRefused("invalid_call_token")
    call = db_session.scalar(
        select(Call).where(Call.call_sid == call_sid, Call.business_id == grant.business_id).with_for_update()
    )
    if call is None:
        raise StreamRefused("unknown_call")
    if call.stream_started_at is not None:
        raise StreamRefused("stream_already_started")  # a token opens one stream only
    business = db_session.get(Business, grant.business_id)
    if business is None or not business.is_active:
        raise StreamRefused("inactive_business")
    now = utcnow()
    call.stream_started_at, call.stream_sid, call.updated_at = now, stream_sid[:64], now
    if call.status not in FINAL_STATUSES:
        call.status = CallStatus.in_progress.value
    tenant = TenantId(business.id)
    prompt = calls_prompt_for(tenant)
    db_session.commit()
    return StreamSetup(tenant, call.id, call.call_sid, call.from_number, call.to_number, prompt)


def _clean_captured(arguments: Mapping[str, Any]) -> dict[str, str]:
    captured = {}
    for key in CAPTURED_FIELDS:
        value = arguments.get(key)
        if isinstance(value, str | int) and str(value).strip():
            captured[key] = str(value).strip()[:1000]
    return captured


def _lead_phone(call: Call) -> str | None:
    for raw in (call.from_number, call.captured.get("phone") or ""):
        if not raw or raw.strip().lower() in _ANONYMOUS:
            continue
        try:
            return parse_phone(raw).e164
        except InvalidPhone:
            continue
    return None


def _link_lead(call: Call, final: bool) -> Lead | None:
    """The caller's lead gets what the AI captured: its name, and this call's block in the notes
    (one block per call, replaced by each later save, never appended twice)."""
    phone = _lead_phone(call)
    if phone is None:
        return None
    tenant = TenantId(call.business_id)
    note = _summary(call, final)
    lead, _created = upsert_from_channel(
        tenant,
        phone,
        LeadSource.call,
        full_name=call.captured.get("name"),
        summary=note,
        inbound_at=call.started_at,
        replace_name=True,
        replaces=call.lead_note,
    )
    call.lead_note = note
    if call.lead_id != lead.id:
        call.lead_id = lead.id
        record_event(lead, LeadEventKind.call_linked, data={"call_id": call.id, "call_sid": call.call_sid})
    return lead


def save_lead_from_tool(setup: StreamSetup, arguments: Mapping[str, Any]) -> int | None:
    """The AI's save_lead tool, during the call: the lead has what the tool said at once."""
    call = db_session.get(Call, setup.call_id)
    if call is None:
        return None
    call.captured = {**call.captured, **_clean_captured(arguments)}
    call.updated_at = utcnow()
    lead = _link_lead(call, final=False)
    db_session.commit()
    return lead.id if lead else None


def _summary(call: Call, final: bool) -> str:
    local = call.started_at.astimezone(ZoneInfo("Asia/Jerusalem")).strftime("%d/%m/%Y %H:%M")
    lines = [f"שיחה נכנסת {local}"]
    labels = {
        "reason": "סיבת הפנייה",
        "preferred_callback_time": "זמן מועדף לחזרה",
        "phone": "טלפון לחזרה",
        "summary": "סיכום",
    }
    for key, label in labels.items():
        if call.captured.get(key):
            lines.append(f"{label}: {call.captured[key]}")
    if len(lines) == 1 and final:
        said = " ".join(t["text"] for t in call.transcript if t.get("speaker") == "caller" and t.get("text"))
        lines.append(f"המתקשר אמר: {said[:400]}" if said else "לא נקלט תמלול מהשיחה")
    return "\n".join(lines)


def finish_call(record: Mapping[str, Any]) -> int | None:
    """Save what the bridge collected; the caller's lead exists afterwards. Idempotent (job retries)."""
    call = db_session.scalar(
        select(Call).where(Call.call_sid == record["call_sid"], Call.business_id == record["business_id"])
    )
    if call is None:
        log.error("finish_call: no call %s of business %s", record["call_sid"], record["business_id"])
        return None
    if call.end_reason is not None:
        return call.lead_id
    now = utcnow()
    call.end_reason = str(record.get("end_reason") or "ended")[:32]
    call.ai_outcome = str(record.get("ai_outcome") or AiOutcome.ok.value)
    call.transcript = list(record.get("transcript") or [])
    call.ai_usage = dict(record.get("ai_usage") or {})
    call.captured = {**call.captured, **_clean_captured(record.get("captured") or {})}
    if call.ended_at is None:
        call.ended_at = now
    if call.duration_seconds is None:
        call.duration_seconds = max(0, round(float(record.get("stream_seconds") or 0)))
    if call.status not in FINAL_STATUSES:
        call.status = CallStatus.completed.value
    call.updated_at = now
    lead = _link_lead(call, final=True) if call.stream_started_at else None
    db_session.commit()
    return lead.id if lead else None


# ---------------------------------------------------------------- the call log


def get_call(tenant: TenantId, call_id: int) -> Call:
    call = db_session.scalar(select(Call).where(Call.id == call_id, Call.business_id == tenant))
    if call is None:
        raise NotFound("call", call_id)
    return call


def _filtered(tenant: TenantId, query: CallQuery) -> Select[Call]:
    stmt = select(Call).where(Call.business_id == tenant)
    if query.status:
        stmt = stmt.where(Call.status.in_(query.status))
    if query.ai_outcome:
        stmt = stmt.where(Call.ai_outcome.in_(query.ai_outcome))
    if query.lead_id is not None:
        stmt = stmt.where(Call.lead_id == query.lead_id)
    if query.from_number:
        try:
            number = parse_phone(query.from_number).e164
        except InvalidPhone as exc:
            raise ValidationFailed([{"field": "from_number", "message": str(exc), "type": "phone"}]) from exc
        stmt = stmt.where(Call.from_number == number)
    if query.started_from is not None:
        stmt = stmt.where(Call.started_at >= query.started_from)
    if query.started_to is not None:
        stmt = stmt.where(Call.started_at < query.started_to)
    return stmt


def list_calls(tenant: TenantId, query: CallQuery) -> tuple[list[Call], str | None]:
    """Newest first, keyset-paginated on (started_at, id)."""
    stmt = _filtered(tenant, query)
    if query.cursor:
        started, last_id = pagination.decode_cursor(query.cursor)
        bound = tuple_(bindparam("cursor_at", started, type_=UTCDateTime), bindparam("cursor_id", last_id))
        stmt = stmt.where(tuple_(Call.started_at, Call.id) < bound)
    rows = list(
        db_session.scalars(stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(query.limit + 1))
    )
    return pagination.page(rows, query.limit, lambda call: (call.started_at, call.id))
