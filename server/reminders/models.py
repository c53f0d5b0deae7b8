"""Reminders on leads, and the in-app notifications they raise when they come due."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        # What the firing sweep reads: due and not yet fired, open. Partial, so it stays as small as
        # the backlog of pending reminders however many reminders a business has closed.
        Index(
            "ix_reminders_due_unfired",
            "due_at",
            postgresql_where=text("fired_at IS NULL AND done_at IS NULL"),
            sqlite_where=text("fired_at IS NULL AND done_at IS NULL"),
        ),
        # GET /api/reminders?due=…: a tenant's open reminders in due order, read straight off the index
        # (LIMIT stops early) however many done ones the business has piled up. Partial, because
        # PostgreSQL does not take "done_at IS NULL" as an equality that fixes the index order.
        Index(
            "ix_reminders_business_open_due",
            "business_id",
            "due_at",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
        Index("ix_reminders_business_due", "business_id", "due_at", "id"),  # state=done|all
        Index("ix_reminders_lead_due", "lead_id", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")
    # Who is notified; NULL: the lead's assignee when it fires, or every active user of the business.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set, under a guard, by whoever fires the reminder: the database decides who fires it, once.
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many times it fired (a snoozed or rescheduled reminder fires again at its new time).
    fired_count: Mapped[int] = mapped_column(Integer, default=0)
    snoozed_count: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class NotificationKind(StrEnum):
    reminder_due = "reminder_due"


class Notification(Base):
    """One in-app message to one user. A reminder notifies a user at most once (the UNIQUE key):
    when a snoozed reminder fires again, its existing notification is raised again as unread."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("reminder_id", "user_id"),
        Index("ix_notifications_user_created", "user_id", "created_at", "id"),
        Index("ix_notifications_business_created", "business_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    # When it was (last) raised: a re-fired reminder moves its notification back to the top.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 1 the first time; 2, 3… when a snoozed reminder raised it again.
    times_raised: Mapped[int] = mapped_column(Integer, default=1)
