from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from server.auth.schemas import Strict

StatusName = Literal[
    "queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"
]


class CallQuery(Strict):
    status: list[StatusName] | None = None
    lead_id: int | None = None
    # The caller's number, any format (normalised to E.164 before matching).
    from_number: str | None = Field(default=None, max_length=40)
    ai_outcome: list[Literal["pending", "ok", "reconnected", "unreachable", "dropped", "failed"]] | None = (
        None
    )
    started_from: AwareDatetime | None = None  # ISO 8601 with a zone: 2026-01-01T00:00:00+02:00
    started_to: AwareDatetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class TurnOut(BaseModel):
    speaker: Literal["caller", "agent", "system"]
    text: str
    at_ms: int
    kind: str = "speech"
    interrupted: bool = False
    heard_ms: int | None = None


class CallOut(BaseModel):
    id: int
    business_id: int
    call_sid: str
    from_number: str
    to_number: str
    direction: str
    caller_name: str
    status: str
    ai_outcome: str
    end_reason: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: int | None
    lead_id: int | None


class CallDetailOut(CallOut):
    stream_sid: str | None
    transcript: list[TurnOut]
    captured: dict[str, Any]
    ai_usage: dict[str, Any]
    status_events: list[dict[str, Any]]


class CallPage(BaseModel):
    items: list[CallOut]
    next_cursor: str | None
