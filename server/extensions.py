"""Extension objects shared across app instances (SeaSurf is made per app in create_app: it keeps
its cookie flags on the instance)."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


@limiter.request_filter
def _provider_webhooks() -> bool:
    """The providers' signed webhooks carry no limits (a refused delivery is only retried): skip the
    limiter's lookup of them, ~0.35 ms a request at 200 WhatsApp messages/s (bench/whatsapp.py)."""
    return request.path.startswith("/webhook/")


def login_email_key() -> str:
    payload = request.get_json(silent=True)
    email = payload.get("email") if isinstance(payload, dict) else None
    if isinstance(email, str) and email.strip():
        return "login-email:" + email.strip().lower()
    return "login-ip:" + (get_remote_address() or "-")
