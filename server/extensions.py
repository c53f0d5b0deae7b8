"""Extension objects, bound to the app in create_app() in a fixed order."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_seasurf import SeaSurf

csrf = SeaSurf()
limiter = Limiter(key_func=get_remote_address)


def login_email_key() -> str:
    payload = request.get_json(silent=True)
    email = payload.get("email") if isinstance(payload, dict) else None
    if isinstance(email, str) and email.strip():
        return "login-email:" + email.strip().lower()
    return "login-ip:" + (get_remote_address() or "-")
