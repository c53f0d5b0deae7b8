from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from server.auth.schemas import Strict


class ConversationQuery(Strict):
    unread: bool | None = None
    ai_paused: bool | None = None
    failed: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    lead_id: int | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=30, ge=1, le=100)


class MessagesQuery(Strict):
    before_id: int | None = None
    limit: int = Field(default=50, ge=1, le=200)


class TextIn(Strict):
    text: str = Field(min_length=1, max_length=4096)


class TemplateIn(Strict):
    name: str = Field(min_length=1, max_length=512)  # Meta: the template's name; Twilio: its Content SID
    language: str = Field(default="he", min_length=2, max_length=16)
    params: list[str] = Field(default_factory=list, max_length=20)


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    direction: str
    author: str
    sent_by_id: int | None
    kind: str
    text: str
    media: list[dict[str, Any]] | None
    template: dict[str, Any] | None
    status: str
    error_code: str | None
    error_message: str | None
    provider: str
    provider_message_id: str | None
    attempts: int
    created_at: datetime
    status_at: datetime | None


class ConversationOut(BaseModel):
    id: int
    customer_name: str
    customer_phone: str | None
    customer_user_id: str | None
    lead_id: int | None
    # Why there is no lead yet (a username hiding the number), else null.
    no_lead_reason: str | None
    provider: str
    ai_paused: bool
    paused_at: datetime | None
    paused_by_id: int | None
    unread_count: int
    last_read_at: datetime | None
    last_message_at: datetime
    last_inbound_at: datetime | None
    last_preview: str
    has_failed: bool
    # Free text is allowed until then; afterwards only a template (the 24-hour rule).
    window_open: bool
    window_ends_at: datetime | None


class ConversationList(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    older_before_id: int | None
