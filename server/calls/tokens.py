"""The short-lived signed call token the voice webhook hands to Twilio and the media WebSocket checks.

Anybody on the internet can open a WebSocket to /ws/twilio/media; only a stream that presents a token
minted for this call (business id + call sid, signed with SECRET_KEY, younger than the TTL) gets an
AI session.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

_SALT = "calls.media-stream.v1"


@dataclass(frozen=True)
class StreamGrant:
    business_id: int
    call_sid: str


def mint(secret_key: str, business_id: int, call_sid: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_SALT).dumps({"b": business_id, "c": call_sid})


def verify(secret_key: str, token: str, max_age_seconds: int) -> StreamGrant | None:
    try:
        data = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(token, max_age=max_age_seconds)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("b"), int) or not isinstance(data.get("c"), str):
        return None
    return StreamGrant(business_id=data["b"], call_sid=data["c"])
