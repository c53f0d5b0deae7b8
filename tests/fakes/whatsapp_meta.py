"""Fake Meta WhatsApp Cloud API (PROTOCOLS.md §5): Graph sends, and signed webhook payloads.

POST /v23.0/{phone_number_id}/messages with `Authorization: Bearer <token>` (the token must be the one
registered for that phone_number_id), addressed by `to` (a number) or `recipient` (a business-scoped
user id), answers {"messaging_product", "contacts", "messages": [{"id"}]}, or Graph's JSON error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from typing import Any

from tests.fakes.whatsapp_http import FakeServer, Recorded, Reply, json_reply

APP_SECRET = "meta-test-app-secret"
VERIFY_TOKEN = "meta-verify-token-42"
VERSION = "v23.0"


def wamid() -> str:
    return "wamid.HBgM" + secrets.token_hex(20).upper()


class FakeMetaGraph(FakeServer):
    def __init__(self, port: int = 0):
        super().__init__(port)
        self.tokens: dict[str, str] = {}  # phone_number_id -> access token
        self.sends: list[dict[str, Any]] = []
        self.fail_next: list[tuple[int, int]] = []  # (HTTP status, Graph error code)
        self._lock = threading.Lock()

    @property
    def graph_base(self) -> str:
        return f"{self.base}/{VERSION}"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.sends.clear()
            self.fail_next.clear()

    def handle(self, request: Recorded) -> Reply:
        match = re.fullmatch(rf"/{VERSION}/(\d+)/messages", request.path)
        if request.method != "POST" or match is None:
            return _error(400, 100, "Unsupported post request.")
        phone_number_id = match.group(1)
        if request.headers.get("Authorization") != f"Bearer {self.tokens.get(phone_number_id, '-')}":
            return _error(401, 190, "Invalid OAuth access token.", "OAuthException")
        with self._lock:
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure:
            return _error(failure[0], failure[1], "Temporarily unavailable")
        payload = request.json()
        # `to` is a phone number; `recipient` a business-scoped user id (a username hiding the number).
        to, recipient = payload.get("to"), payload.get("recipient")
        if not to and not recipient:
            return _error(400, 100, "(#100) The parameter to is required.")
        message_id = wamid()
        with self._lock:
            self.sends.append({"phone_number_id": phone_number_id, "id": message_id, **payload})
        contact = {"input": to, "wa_id": to} if to else {"input": recipient, "user_id": recipient}
        return json_reply(
            200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": message_id}]}
        )


def _error(status: int, code: int, message: str, kind: str = "OAuthException") -> Reply:
    return json_reply(
        status,
        {"error": {"message": message, "type": kind, "code": code, "error_subcode": 0, "fbtrace_id": "Ab12"}},
    )


# ---------------------------------------------------------------- Meta's side of the webhooks


def text_message(
    from_wa_id: str, body: str, message_id: str | None = None, ts: int | None = None
) -> dict[str, Any]:
    return {
        "from": from_wa_id,
        "id": message_id or wamid(),
        "timestamp": str(ts or int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def contact(wa_id: str | None, name: str, user_id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "profile": {"name": name},
        "user_id": user_id or f"IL.{secrets.randbelow(10**12)}",
    }
    if wa_id:
        entry["wa_id"] = wa_id
    return entry


def change(
    phone_number_id: str,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97235551234", "phone_number_id": phone_number_id},
    }
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def status(
    message_id: str, state: str, recipient: str = "972501234567", error_code: int | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if error_code:
        entry["errors"] = [{"code": error_code, "title": "Re-engagement message"}]
    return entry


def webhook(*entries: list[dict[str, Any]]) -> dict[str, Any]:
    """entries: each a list of changes (one entry per WABA)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": f"10{index}", "changes": changes} for index, changes in enumerate(entries)],
    }


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload, ensure_ascii=False).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
