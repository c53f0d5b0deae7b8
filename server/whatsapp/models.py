"""WhatsApp conversations, their messages, and the intake log that makes webhooks idempotent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class Provider(StrEnum):
    twilio = "twilio"
    meta = "meta"


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"


class Author(StrEnum):
    customer = "customer"
    ai = "ai"
    user = "user"  # a person of the business, from the inbox or the lead page


class Delivery(StrEnum):
    received = "received"  # inbound
    queued = "queued"  # ours, not yet accepted, or accepted and not yet sent by the provider
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"


# Statuses arrive out of order: a message only moves forward (read beats delivered beats sent).
# A failure counts only over queued/sent; a message seen delivered did reach the phone.
DELIVERY_RANK = {"queued": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


class Conversation(Base):
    """One per (business, customer): keyed by the customer's E.164 number, or by the WhatsApp user id
    when the customer hides the number behind a username."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("business_id", "customer_key"),
        Index("ix_conversations_business_last", "business_id", "last_message_at", "id"),
        Index("ix_conversations_reply_armed_at", "reply_armed_at"),  # the stranded-reply sweep
        Index("ix_conversations_business_user", "business_id", "customer_user_id"),  # Meta's user ids
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_key: Mapped[str] = mapped_column(String(80))
    customer_phone: Mapped[str | None] = mapped_column(String(20))
    customer_user_id: Mapped[str | None] = mapped_column(String(80))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    # The channel the customer last wrote on, and our side of it: the Twilio sender (E.164) or the
    # Meta phone_number_id. Replies go out the same way.
    provider: Mapped[str] = mapped_column(String(16))
    business_address: Mapped[str] = mapped_column(String(64))

    ai_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_preview: Mapped[str] = mapped_column(String(200), default="")
    # When the customer last wrote (the 24-hour window), and when we received it (the reply debounce).
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The AI reply: armed when a message needs an answer, leased while one is being written, and the
    # last inbound message id already answered (by the AI or by a person).
    reply_armed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_through_id: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_business_status", "business_id", "status"),
        Index("ix_messages_status_at", "status", "status_at"),  # the stranded-send sweep
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(4))
    author: Mapped[str] = mapped_column(String(16))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(160))
    # text, image, audio, video, document, sticker, location, contacts, button, interactive, reaction,
    # unsupported; template (ours); ai_reply (an AI answer that never came: status failed)
    kind: Mapped[str] = mapped_column(String(24), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    template: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundEvent(Base):
    """Every inbound message and status callback, written first: a redelivery hits the unique key."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_inbound_events_provider_ref", "provider", "message_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    # A message's id; for a status, "<message id>:<status>" (one message has several statuses).
    provider_message_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # message | status
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    # For a status: the message it is about, and whether it found it (a callback can beat our own
    # commit of the id the provider gave us; the send applies such early statuses afterwards).
    message_ref: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    processed: Mapped[bool] = mapped_column(Boolean, default=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
