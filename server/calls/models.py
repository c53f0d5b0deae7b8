"""One row per phone call: who called which business, how it went, what was said, the lead it touched."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class CallStatus(StrEnum):
    """Twilio's CallStatus values."""

    queued = "queued"
    ringing = "ringing"
    in_progress = "in-progress"
    completed = "completed"
    busy = "busy"
    no_answer = "no-answer"
    failed = "failed"
    canceled = "canceled"


FINAL_STATUSES = frozenset(
    {CallStatus.completed, CallStatus.busy, CallStatus.no_answer, CallStatus.failed, CallStatus.canceled}
)


class AiOutcome(StrEnum):
    pending = "pending"  # the stream has not started (yet)
    ok = "ok"
    reconnected = "reconnected"  # the AI socket dropped once and the one reconnect worked
    unreachable = "unreachable"  # the AI could not be reached at call start: fallback message
    dropped = "dropped"  # the AI socket dropped and the reconnect failed: fallback message
    failed = "failed"  # an unexpected error in the bridge: fallback message, the call still saved


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_business_started", "business_id", "started_at", "id"),
        Index("ix_calls_business_status_started", "business_id", "status", "started_at", "id"),
        Index("ix_calls_lead_id", "lead_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    stream_sid: Mapped[str | None] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(64), default="")
    to_number: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.ringing.value)
    ai_outcome: Mapped[str] = mapped_column(String(16), default=AiOutcome.pending.value)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stream_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # [{"speaker": "caller"|"agent"|"system", "text": "...", "at_ms": 1234, "kind": "speech"|"dtmf"|...}]
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What the AI captured with the save_lead tool (name, reason, callback time, summary, other phone).
    captured: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Summed response.done usage: input_tokens, output_tokens, total_tokens, responses.
    ai_usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Twilio status callbacks as they came: [{"status": "...", "at": "...", "duration": 12}].
    status_events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    # The block this call wrote into its lead's notes: each later save of the call replaces it.
    lead_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
