"""Leads, their per-business status pipeline, tags and the timeline of everything that happened."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from server.db import Base, UTCDateTime, utcnow


class LeadSource(StrEnum):
    manual = "manual"
    call = "call"
    whatsapp = "whatsapp"
    import_ = "import"
    api = "api"


class NameSource(StrEnum):
    human = "human"
    agent = "agent"


class StatusKind(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


# The pipeline every business starts with: new → contacted → qualified → won | lost.
DEFAULT_PIPELINE: list[tuple[str, str, StatusKind]] = [
    ("new", "חדש", StatusKind.open),
    ("contacted", "נוצר קשר", StatusKind.open),
    ("qualified", "מתאים", StatusKind.open),
    ("won", "נסגר בהצלחה", StatusKind.won),
    ("lost", "לא רלוונטי", StatusKind.lost),
]


TAG_SEPARATOR = "\x1f"


class LeadStatus(Base):
    """One column of a business's pipeline. `key` is stable; label and position are the business's."""

    __tablename__ = "lead_statuses"
    __table_args__ = (UniqueConstraint("business_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8), default=StatusKind.open.value)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        # One lead per phone per business (NULL phones — email-only leads — do not collide).
        UniqueConstraint("business_id", "phone"),
        # Keyset pagination and the common filters, newest first, all within one tenant.
        Index("ix_leads_business_created", "business_id", "created_at", "id"),
        Index("ix_leads_business_status_created", "business_id", "status", "created_at", "id"),
        Index("ix_leads_business_updated", "business_id", "updated_at", "id"),
        # Staff who are not impersonating read every business's leads in the same orders.
        Index("ix_leads_created", "created_at", "id"),
        Index("ix_leads_updated", "updated_at", "id"),
        # Import: a row without a phone merges into the lead with its email.
        Index("ix_leads_business_email", "business_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # Who wrote the name: "human" (a user, an import) is kept; "agent" (the phone or WhatsApp agent)
    # is replaced by a name the AI learns later.
    name_source: Mapped[str] = mapped_column(
        String(8), default=NameSource.human.value, server_default="human"
    )
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(16), default=LeadSource.manual.value)
    status: Mapped[str] = mapped_column(String(40), default="new")
    notes: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Lower-cased name, phone digits, email and notes: what free-text search matches (trigram
    # index on PostgreSQL, so a partial Hebrew name is an index lookup).
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tags: Mapped[list[LeadTag]] = relationship(cascade="all, delete-orphan", order_by="LeadTag.tag")
    # Filled by listings in the same query (one aggregate per row) instead of a second query.
    listed_tags: Mapped[str | None] = query_expression()

    @property
    def tag_names(self) -> list[str]:
        if "tags" not in self.__dict__ and self.listed_tags is not None:
            return sorted(t for t in self.listed_tags.split(TAG_SEPARATOR) if t)
        return [t.tag for t in self.tags]


class LeadTag(Base):
    __tablename__ = "lead_tags"
    __table_args__ = (Index("ix_lead_tags_business_tag", "business_id", "tag", "lead_id"),)

    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))


class LeadEventKind(StrEnum):
    created = "created"
    updated = "updated"
    status_changed = "status_changed"
    note_added = "note_added"
    reminder_set = "reminder_set"
    reminder_done = "reminder_done"
    whatsapp_queued = "whatsapp_queued"
    whatsapp_sent = "whatsapp_sent"
    call_linked = "call_linked"
    conversation_linked = "conversation_linked"
    merged = "merged"
    deleted = "deleted"
    restored = "restored"


class LeadEvent(Base):
    """The timeline: one row per change, oldest first."""

    __tablename__ = "lead_events"
    __table_args__ = (Index("ix_lead_events_lead_id_id", "lead_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
