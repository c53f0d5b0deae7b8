"""Fake Twilio for WhatsApp (PROTOCOLS.md §4): the Messages REST resource, and signed webhooks.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json with basic auth AccountSid:AuthToken, form fields
From/To/Body or ContentSid/ContentVariables, StatusCallback; answers 201 with the message resource
(sid SM..., status queued) or Twilio's JSON error. `fail_next` queues HTTP errors for the next sends.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
from twilio.request_validator import RequestValidator

from tests.fakes.whatsapp_http import FakeServer, Recorded, Reply, json_reply

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-test-auth-token-0123456789"


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


@dataclass
class TwilioSend:
    sid: str
    form: dict[str, str]

    @property
    def body(self) -> str:
        return self.form.get("Body", "")


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, port: int = 0):
        super().__init__(port)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sends: list[TwilioSend] = []
        self.fail_next: list[int] = []
        # Raw answers (status, body) for the next sends, e.g. a proxy's HTML page with a 201.
        self.raw_next: list[tuple[int, str]] = []
        # Called with the new sid before the answer goes out (a status callback that beats it).
        self.on_send: Callable[[str], Any] | None = None
        self._sends_lock = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._sends_lock:
            self.sends.clear()
            self.fail_next.clear()
            self.raw_next.clear()
            self.on_send = None

    def handle(self, request: Recorded) -> Reply:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != expected:
            return json_reply(
                404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            )
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {credentials}":
            return json_reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        with self._sends_lock:
            failure = self.fail_next.pop(0) if self.fail_next else None
            raw = self.raw_next.pop(0) if self.raw_next else None
        if raw:
            return raw[0], {"Content-Type": "text/html"}, raw[1].encode()
        if failure:
            return json_reply(failure, {"code": 20500, "message": "Internal Server Error", "status": failure})
        form = {
            key: values[-1] for key, values in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        sid = message_sid()
        with self._sends_lock:
            self.sends.append(TwilioSend(sid, form))
        if self.on_send is not None:
            self.on_send(sid)
        return json_reply(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "from": form.get("From"),
                "to": form.get("To"),
                "body": form.get("Body", ""),
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "num_segments": "1",
                "num_media": "0",
                "error_code": None,
                "error_message": None,
                "messaging_service_sid": None,
                "price": None,
                "price_unit": "USD",
                "date_created": "Mon, 23 Nov 2026 18:00:00 +0000",
                "date_updated": "Mon, 23 Nov 2026 18:00:00 +0000",
                "date_sent": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
                "subresource_uris": {},
            },
        )


# ---------------------------------------------------------------- Twilio's side of the webhooks


def inbound_form(
    from_number: str,
    to_number: str,
    body: str,
    sid: str | None = None,
    profile_name: str = "דנה",
    **extra: str,
) -> dict[str, str]:
    """An inbound WhatsApp message as Twilio posts it (plus a field Twilio may add without notice)."""
    form = {
        "MessageSid": sid or message_sid(),
        "SmsMessageSid": sid or "",
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{from_number}",
        "To": f"whatsapp:{to_number}",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": profile_name,
        "WaId": from_number.lstrip("+"),
        "MessageType": "text",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        "ChannelMetadata": '{"type":"whatsapp"}',  # a newer field: unknown to us, still signed
    }
    form["SmsMessageSid"] = form["MessageSid"]
    form.update(extra)
    return form


def status_form(
    sid: str, status: str, error_code: str = "", to_number: str = "+972501234567"
) -> dict[str, str]:
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "ChannelToAddress": to_number,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        form["ErrorCode"] = error_code
        form["ErrorMessage"] = "Message failed"
    return form


def sign(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, form))


def post_signed(
    client: Any, url: str, form: dict[str, str], signed_url: str | None = None, signature: str | None = None
) -> Any:
    """POST like Twilio: form-encoded, X-Twilio-Signature over the URL Twilio used and every field.

    `client` is a Flask test client (url is a path) or an httpx.Client (url is absolute)."""
    headers = {"X-Twilio-Signature": signature if signature is not None else sign(signed_url or url, form)}
    if isinstance(client, httpx.Client):
        return client.post(url, data=form, headers=headers)
    return client.post(url, data=form, headers=headers)
