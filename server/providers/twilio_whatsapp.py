"""Twilio Programmable Messaging for WhatsApp: signature check, REST sends. Never touches the database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from server.providers import built_once
from server.providers.whatsapp_common import ProviderError, SendResult
from server.settings import Settings

# Twilio's message states mapped onto ours (accepted/scheduled/sending are still "queued" for us).
STATUS_MAP = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


class _Fields(dict[str, list[str]]):
    """The POST fields as the validator reads a multi-valued form first (`getall`). werkzeug's
    MultiDict has only `getlist`, which the validator reaches through two AttributeErrors per field
    and per signature it computes (two): 90 -> 33 us a webhook of 14 fields."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def signature_valid(auth_token: str, url: str, form: Any, signature: str | None) -> bool:
    """X-Twilio-Signature over the URL Twilio requested and every POST field (unknown ones included,
    every value of a repeated one). `form`: a werkzeug MultiDict or a plain mapping."""
    if not auth_token or not signature:
        return False
    fields = _Fields(form.lists()) if hasattr(form, "lists") else _Fields((k, [v]) for k, v in form.items())
    return bool(RequestValidator(auth_token).validate(url, fields, signature))


def address(number_e164: str) -> str:
    return f"whatsapp:{number_e164}"


@built_once
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float, connections: int) -> Client:
    http = TwilioHttpClient(timeout=timeout)
    # A kept connection for each reply that may send at once (WHATSAPP_REPLY_CONCURRENCY). The
    # library's pool holds min(32, CPUs + 4) for https (6 on a 2-CPU server), requests' default 10 for
    # http: the sends past it opened a connection (a TCP and TLS handshake) and dropped it after
    # the send, with urllib3's "Connection pool is full" warning each time.
    adapter = HTTPAdapter(pool_maxsize=connections)
    assert http.session is not None  # pool_connections=True, the default
    for scheme in ("https://", "http://"):
        http.session.mount(scheme, adapter)
    client = Client(account_sid, auth_token, http_client=http)
    client.api.base_url = base_url.rstrip("/")  # TWILIO_API_BASE_URL: the tests' fake Twilio
    return client


def send(
    settings: Settings,
    *,
    from_number: str,
    to_number: str,
    body: str | None = None,
    content_sid: str | None = None,
    content_variables: Sequence[str] = (),
    status_callback: str | None = None,
) -> SendResult:
    """Free text (body) or an approved template (content_sid + variables {"1": ..., "2": ...})."""
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise ProviderError(
            "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set", retryable=False, code="config"
        )
    client = _client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base_url,
        settings.whatsapp_send_timeout_seconds,
        settings.whatsapp_reply_concurrency,
    )
    fields: dict[str, Any] = {"from_": address(from_number), "to": address(to_number)}
    if content_sid:
        fields["content_sid"] = content_sid
        fields["content_variables"] = json.dumps(
            {str(i + 1): value for i, value in enumerate(content_variables)}, ensure_ascii=False
        )
    else:
        fields["body"] = body or ""
    if status_callback:
        fields["status_callback"] = status_callback
    try:
        message = client.messages.create(**fields)
    except TwilioRestException as exc:
        retryable = exc.status >= 500 or exc.status == 429
        raise ProviderError(
            f"Twilio refused the message: {exc.msg}",
            retryable=retryable,
            code=str(exc.code),
            status=exc.status,
        ) from exc
    except TwilioException as exc:
        raise ProviderError(
            f"Twilio refused the message: {exc}", retryable=False, code="provider_error"
        ) from exc
    except requests.RequestException as exc:
        raise ProviderError(f"Twilio did not answer: {type(exc).__name__}", retryable=True) from exc
    except ValueError as exc:  # a 2xx whose body is not Twilio's JSON: it may have taken the message
        raise ProviderError(
            "Twilio's answer could not be read; the message may have been sent (check before resending)",
            retryable=False,
            code="provider_unreadable",
        ) from exc
    if message.error_code:
        raise ProviderError(
            f"Twilio refused the message: {message.error_message}",
            retryable=False,
            code=str(message.error_code),
        )
    return SendResult(
        provider_message_id=str(message.sid), status=STATUS_MAP.get(str(message.status), "queued")
    )


def form_dict(form: Mapping[str, str]) -> dict[str, str]:
    return {key: form[key] for key in form}
