"""Meta WhatsApp Cloud API: webhook signature, Graph API sends. Never touches the database."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import httpx

from server.providers import built_once
from server.providers.whatsapp_common import ProviderError, SendResult
from server.settings import Settings

# Graph error codes worth another try (rate limits, temporarily unavailable); everything else 4xx is final.
RETRYABLE_CODES = {130429, 131016, 4, 80007}


@built_once
def _http(connections: int) -> httpx.Client:
    """A kept connection for each reply that may send at once (WHATSAPP_REPLY_CONCURRENCY), as for
    Twilio: with httpx's 20, the sends past them each opened a TCP and TLS connection and closed it.
    Idle ones close after httpx's 5 s."""
    return httpx.Client(
        timeout=15.0,
        limits=httpx.Limits(max_connections=max(100, connections), max_keepalive_connections=connections),
    )


def signature_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256: 'sha256=' + hex HMAC-SHA256 of the raw body with the app secret."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest().encode()
    # Bytes: compare_digest refuses a str with non-ASCII characters (a forged header), with TypeError.
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower().encode())


def addressed(to_number: str | None, user_id: str | None) -> dict[str, str]:
    """`to` a phone number (digits, no +), else `recipient` the business-scoped user id of a customer
    who hides the number behind a username."""
    if to_number:
        return {"to": to_number.lstrip("+")}
    if user_id:
        return {"recipient": user_id}
    raise ProviderError(
        "the customer shows neither a number nor a WhatsApp user id", retryable=False, code="no_recipient"
    )


def _post(settings: Settings, phone_number_id: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    url = f"{settings.meta_graph_base_url.rstrip('/')}/{phone_number_id}/messages"
    try:
        response = _http(settings.whatsapp_reply_concurrency).post(
            url,
            json=payload,
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.whatsapp_send_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise ProviderError(f"Meta did not answer: {type(exc).__name__}", retryable=True) from exc
    except httpx.InvalidURL as exc:
        raise ProviderError(
            f"META_GRAPH_BASE_URL is not a usable URL: {exc}", retryable=False, code="config"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = error.get("code")
        retryable = response.status_code >= 500 or response.status_code == 429 or code in RETRYABLE_CODES
        raise ProviderError(
            f"Meta refused the message: {error.get('message') or response.status_code}",
            retryable=retryable,
            code=str(code) if code is not None else None,
            status=response.status_code,
        )
    return body if isinstance(body, dict) else {}


def _result(body: dict[str, Any]) -> SendResult:
    messages = body.get("messages") or []
    if not messages or not messages[0].get("id"):
        raise ProviderError(
            "Meta answered without a message id; the message may have been sent (check before resending)",
            retryable=False,
            code="provider_unreadable",
        )
    return SendResult(provider_message_id=str(messages[0]["id"]), status="queued")


def send_text(
    settings: Settings,
    phone_number_id: str,
    token: str,
    to_number: str | None,
    user_id: str | None,
    text: str,
) -> SendResult:
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **addressed(to_number, user_id),
        "type": "text",
        "text": {"body": text, "preview_url": False},
    }
    return _result(_post(settings, phone_number_id, token, payload))


def send_template(
    settings: Settings,
    phone_number_id: str,
    token: str,
    to_number: str | None,
    user_id: str | None,
    name: str,
    language: str,
    params: Sequence[str],
) -> SendResult:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": value} for value in params]}
        ]
    payload = {
        "messaging_product": "whatsapp",
        **addressed(to_number, user_id),
        "type": "template",
        "template": template,
    }
    return _result(_post(settings, phone_number_id, token, payload))
