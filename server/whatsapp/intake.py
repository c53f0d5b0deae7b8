"""Provider payloads (Twilio form posts, Meta JSON batches) read into one shape. No database here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.phones import InvalidPhone, parse_phone
from server.providers import twilio_whatsapp
from server.whatsapp.models import Provider

# What the inbox (and the AI) shows for a message that is not plain text: Hebrew first.
PLACEHOLDERS = {
    "image": "📷 תמונה",
    "audio": "🎤 הודעה קולית",
    "voice": "🎤 הודעה קולית",
    "video": "🎬 סרטון",
    "document": "📄 מסמך",
    "sticker": "מדבקה",
    "location": "📍 מיקום",
    "contacts": "👤 איש קשר",
    "reaction": "תגובה",
    "unsupported": "הודעה שאינה נתמכת",
}


@dataclass
class InboundMessage:
    provider: Provider
    provider_message_id: str
    business_address: str  # Twilio: the business's sender (E.164); Meta: the phone_number_id
    customer_phone: str | None  # E.164 when the customer shows a number
    customer_user_id: str | None  # Meta's business-scoped user id (customers with a username)
    customer_name: str
    kind: str
    text: str
    media: list[dict[str, Any]] = field(default_factory=list)
    sent_at: datetime | None = None
    messaging_service_sid: str | None = None


@dataclass
class StatusUpdate:
    provider: Provider
    message_ref: str
    raw_status: str
    status: str | None  # ours (queued/sent/delivered/read/failed), None when it means nothing to us
    error_code: str | None = None
    error_message: str | None = None


def e164_or_none(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return parse_phone(raw if raw.startswith(("+", "whatsapp:")) else "+" + raw).e164
    except InvalidPhone:
        return None


def _placeholder(kind: str, caption: str = "") -> str:
    label = PLACEHOLDERS.get(kind, f"[{kind}]")
    return f"{label}: {caption}" if caption else label


# ---------------------------------------------------------------- Twilio


def twilio_message(form: Mapping[str, str]) -> InboundMessage:
    """An inbound Twilio WhatsApp webhook (PROTOCOLS.md §4); unknown fields are ignored."""
    media = []
    for index in range(_int(form.get("NumMedia"))):
        media.append(
            {
                "url": form.get(f"MediaUrl{index}") or "",
                "content_type": form.get(f"MediaContentType{index}") or "",
            }
        )
    kind = (form.get("MessageType") or "").lower()
    if not kind:
        kind = (media[0]["content_type"].split("/")[0] or "document") if media else "text"
    body = form.get("Body", "")
    if kind == "button":
        text = form.get("ButtonText") or body
    elif kind == "location":
        text = _placeholder("location", f"{form.get('Latitude', '')},{form.get('Longitude', '')}")
    elif kind == "text":
        text = body
    elif media or kind in PLACEHOLDERS:
        text = _placeholder(kind, body)
    else:
        text = body or _placeholder(kind)
    if kind == "location":
        media.append({"latitude": form.get("Latitude") or "", "longitude": form.get("Longitude") or ""})
    wa_id = form.get("WaId")
    return InboundMessage(
        provider=Provider.twilio,
        provider_message_id=form.get("MessageSid", ""),
        business_address=e164_or_none(form.get("To")) or form.get("To", ""),
        customer_phone=e164_or_none(form.get("From")) or e164_or_none(wa_id),
        customer_user_id=None,
        customer_name=form.get("ProfileName", "")[:200],
        kind=kind[:24],
        text=text,
        media=media,
        sent_at=None,
        messaging_service_sid=form.get("MessagingServiceSid") or None,
    )


def twilio_status(form: Mapping[str, str]) -> StatusUpdate:
    raw = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    return StatusUpdate(
        provider=Provider.twilio,
        message_ref=form.get("MessageSid", ""),
        raw_status=raw,
        status=twilio_whatsapp.STATUS_MAP.get(raw),
        error_code=form.get("ErrorCode") or None,
        error_message=form.get("ErrorMessage") or None,
    )


def _int(value: str | None) -> int:
    try:
        return max(0, min(int(value or 0), 10))
    except ValueError:
        return 0


# ---------------------------------------------------------------- Meta

META_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


@dataclass
class MetaBatch:
    phone_number_id: str
    messages: list[InboundMessage]
    statuses: list[StatusUpdate]


def meta_batches(payload: Any) -> Iterator[MetaBatch]:
    """Every entry, every change, every message and status of one Meta webhook POST (§5)."""
    if not isinstance(payload, dict):
        return
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            if not isinstance(change, dict) or change.get("field", "messages") != "messages":
                continue
            value = change.get("value") or {}
            phone_number_id = str((value.get("metadata") or {}).get("phone_number_id") or "")
            contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
            messages = [
                _meta_message(phone_number_id, m, contacts)
                for m in value.get("messages") or []
                if isinstance(m, dict) and m.get("id")
            ]
            statuses = [
                _meta_status(s) for s in value.get("statuses") or [] if isinstance(s, dict) and s.get("id")
            ]
            yield MetaBatch(phone_number_id, messages, statuses)


def _meta_contact(message: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    sender = message.get("from")
    for contact in contacts:
        if sender and contact.get("wa_id") == sender:
            return contact
        if message.get("from_user_id") and contact.get("user_id") == message.get("from_user_id"):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _meta_message(
    phone_number_id: str, message: dict[str, Any], contacts: list[dict[str, Any]]
) -> InboundMessage:
    contact = _meta_contact(message, contacts)
    profile = contact.get("profile") or {}
    kind = str(message.get("type") or "unsupported")
    part = message.get(kind)
    body: dict[str, Any] = part if isinstance(part, dict) else {}
    media: list[dict[str, Any]] = []
    if kind == "text":
        text = str((message.get("text") or {}).get("body", ""))
    elif kind in ("image", "audio", "video", "document", "sticker"):
        media.append({k: body.get(k) for k in ("id", "mime_type", "sha256", "filename") if body.get(k)})
        text = _placeholder(kind, str(body.get("caption") or ""))
    elif kind == "location":
        media.append({k: body.get(k) for k in ("latitude", "longitude", "name", "address") if body.get(k)})
        text = _placeholder(
            "location", str(body.get("name") or f"{body.get('latitude')},{body.get('longitude')}")
        )
    elif kind == "button":
        text = str(body.get("text") or body.get("payload") or "")
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        text = str(reply.get("title") or reply.get("id") or "")
    elif kind == "reaction":
        text = _placeholder("reaction", str(body.get("emoji") or ""))
    elif kind == "contacts":
        names = [
            ((c or {}).get("name") or {}).get("formatted_name", "") for c in message.get("contacts") or []
        ]
        text = _placeholder("contacts", ", ".join(n for n in names if n))
    else:
        text = _placeholder("unsupported")
    sent_at = None
    with suppress(TypeError, ValueError, OverflowError):
        sent_at = datetime.fromtimestamp(int(message.get("timestamp", "")), UTC)
    return InboundMessage(
        provider=Provider.meta,
        provider_message_id=str(message["id"]),
        business_address=phone_number_id,
        customer_phone=e164_or_none(message.get("from") or contact.get("wa_id")),
        customer_user_id=contact.get("user_id") or message.get("from_user_id"),
        customer_name=str(profile.get("name") or profile.get("username") or "")[:200],
        kind=kind[:24],
        text=text,
        media=media,
        sent_at=sent_at,
    )


def _meta_status(status: dict[str, Any]) -> StatusUpdate:
    raw = str(status.get("status") or "").lower()
    errors = status.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return StatusUpdate(
        provider=Provider.meta,
        message_ref=str(status["id"]),
        raw_status=raw,
        status=META_STATUSES.get(raw),
        error_code=str(first["code"]) if first.get("code") is not None else None,
        error_message=first.get("title") or first.get("message"),
    )
