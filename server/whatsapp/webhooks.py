"""/webhook/whatsapp/**: Twilio and Meta deliveries. Outside the guard and CSRF; each checks its
provider's signature before reading anything, stores every message and status once, and answers at
once (the AI reply is a background job)."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request

from server import crypto
from server.errors import error_response
from server.providers import meta_whatsapp, twilio_whatsapp
from server.settings import Settings
from server.whatsapp import intake, replies, service

log = logging.getLogger(__name__)

bp = Blueprint("whatsapp_webhooks", __name__, url_prefix="/webhook/whatsapp")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@bp.record_once
def _check_encryption_key(state: object) -> None:
    # Refuse to start (outside development) without DATA_ENCRYPTION_KEY, not at the first send.
    crypto.check(getattr(state, "app").extensions["settings"])  # noqa: B009


def _settings() -> Settings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


def _refused(provider: str, why: str) -> Response:
    log.warning("%s webhook refused from %s: %s", provider, request.remote_addr, why)
    return error_response(403, "forbidden", "bad_signature", f"The {provider} signature is {why}.")


def _twilio_url(settings: Settings) -> str:
    """The URL Twilio signed: the public origin when set (behind a proxy), else the request's."""
    if settings.public_base_url:
        query = request.query_string.decode()
        return settings.public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    return request.url


def _twilio_signed(settings: Settings) -> str | None:
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        return "missing"
    url = _twilio_url(settings)
    if not twilio_whatsapp.signature_valid(settings.twilio_auth_token, url, request.form, signature):
        return "invalid"
    return None


def _twiml() -> Response:
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/twilio")
def twilio_inbound() -> Response:
    settings = _settings()
    problem = _twilio_signed(settings)
    if problem:
        return _refused("Twilio", problem)
    inbound = intake.twilio_message(request.form)
    if not inbound.provider_message_id or not inbound.customer_phone:
        return error_response(400, "bad_request", "not_a_message", "MessageSid and From are required.")
    business = service.business_for_twilio(inbound.business_address, inbound.messaging_service_sid)
    if business is None:
        log.warning(
            "Twilio WhatsApp message %s to %s: no business has that number",
            inbound.provider_message_id,
            inbound.business_address,
        )
        return _twiml()
    result = service.ingest_message(business, inbound)
    if result.arm_reply and result.conversation_id is not None:
        replies.schedule_reply(result.conversation_id)
    return _twiml()


@bp.post("/twilio/status")
def twilio_status() -> Response:
    settings = _settings()
    problem = _twilio_signed(settings)
    if problem:
        return _refused("Twilio", problem)
    status = intake.twilio_status(request.form)
    if not status.message_ref or not status.raw_status:
        return error_response(
            400, "bad_request", "not_a_status", "MessageSid and MessageStatus are required."
        )
    service.ingest_status(None, status)
    return _twiml()


@bp.get("/meta")
def meta_verify() -> Response:
    settings = _settings()
    token = request.args.get("hub.verify_token", "")
    if (
        request.args.get("hub.mode") == "subscribe"
        and settings.meta_verify_token
        and hmac.compare_digest(token.encode(), settings.meta_verify_token.encode())
    ):
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
    return error_response(403, "forbidden", "bad_verify_token", "hub.verify_token does not match.")


@bp.post("/meta")
def meta_inbound() -> Response:
    settings = _settings()
    raw = request.get_data(cache=True)
    header = request.headers.get("X-Hub-Signature-256")
    if not header:
        return _refused("Meta", "missing")
    if not meta_whatsapp.signature_valid(settings.meta_app_secret, raw, header):
        return _refused("Meta", "invalid")
    payload = request.get_json(silent=True)
    if payload is None:
        return error_response(400, "bad_request", "invalid_json", "The body is not JSON.")
    counts = {"messages": 0, "duplicates": 0, "statuses": 0}
    for batch in intake.meta_batches(payload):
        business = service.business_for_meta(batch.phone_number_id)
        if business is None and batch.messages:
            log.warning("Meta messages for phone_number_id %s: no business has it", batch.phone_number_id)
        for inbound in batch.messages:
            if business is None:
                break
            if not inbound.customer_phone and not inbound.customer_user_id:
                log.warning("Meta message %s names no sender; skipped", inbound.provider_message_id)
                continue
            result = service.ingest_message(business, inbound)
            counts["duplicates" if result.duplicate else "messages"] += 1
            if result.arm_reply and result.conversation_id is not None:
                replies.schedule_reply(result.conversation_id)
        for status in batch.statuses:
            if status.raw_status:
                counts["statuses"] += service.ingest_status(business.id if business else None, status)
    return Response(
        f'{{"ok": true, "messages": {counts["messages"]}, "duplicates": {counts["duplicates"]}, '
        f'"statuses": {counts["statuses"]}}}',
        mimetype="application/json",
    )
