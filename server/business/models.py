"""The tenant (a business), the numbers it answers on, and its AI prompts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow


class NumberKind(StrEnum):
    voice = "voice"
    whatsapp = "whatsapp"


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jerusalem")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    meta_phone_number_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # WhatsApp (migration 0005): Meta's access token, encrypted with DATA_ENCRYPTION_KEY (server/crypto.py),
    # never returned by any read; Twilio's Messaging Service, the second key that finds the business.
    meta_access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    twilio_messaging_service_sid: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    numbers: Mapped[list[BusinessNumber]] = relationship(
        back_populates="business",
        cascade="all, delete-orphan",
        order_by="BusinessNumber.id",
        lazy="selectin",
    )

    def numbers_of(self, kind: NumberKind) -> list[str]:
        return [n.number for n in self.numbers if n.kind == kind]


class BusinessNumber(Base):
    """A phone number (E.164) a business answers on; one owner per number and channel."""

    __tablename__ = "business_numbers"
    __table_args__ = (UniqueConstraint("kind", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(20))

    business: Mapped[Business] = relationship(back_populates="numbers")


class Prompt(Base):
    """The current prompts of one business."""

    __tablename__ = "prompts"

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    calls_prompt: Mapped[str] = mapped_column(Text, default="")
    whatsapp_prompt: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PromptVersion(Base):
    """Every saved pair of prompts, newest last: the history and what 'restore' picks from."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("business_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    calls_prompt: Mapped[str] = mapped_column(Text)
    whatsapp_prompt: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    impersonation_id: Mapped[int | None] = mapped_column(ForeignKey("impersonations.id", ondelete="SET NULL"))
